"""Small transfer sets: Student 600-600 on the first 1%, 3%, 10% or 100% of the (already shuffled)
training split, tiled so that every run takes the same number of steps, plain or distilled."""

from distiller import models, resume
from distiller.per_seed import first_part, paired, seeds_of
from distiller.report import errorbar, figure, provenance, save, spread, teacher_of

NAME = "fractions"
DISTIL_FROM = True  # its teacher is --distil-from's, and its section is named after it
SEEDS = "seeds"  # the config field that counts its section's seeds: fewer never take it back (kept_seeds.place)


def transfer_fractions(config, data, teacher_logits, progress=resume.UNRECORDED, log=print):
    """Students 600-600 from the first 1%, 3%, 10%, 100% of the (already shuffled) training split."""
    result = {}
    progress.expect(len(config.fractions) * 2 * config.seeds)
    for fraction in config.fractions:
        n, keep = first_part(data, fraction)
        log(f"Transfer set of {n} images ({fraction:.0%}), seeds {seeds_of(config)}")
        result[str(fraction)] = {"images": n, **paired(config, data, teacher_logits, models.STUDENT_UNITS,
                                                       seeds_of(config), keep, progress)}
    return result


def run(ctx, progress):
    return transfer_fractions(ctx.config, ctx.data, ctx.transfer_logits(), progress, ctx.log)


def render(section, name=NAME):
    r = section["result"]
    lines = [f"## Small transfer sets (Student 600-600{teacher_of(section)})", "",
             "| fraction | images | plain: test errors | distilled | per seed (plain / distilled) |",
             "|---:|---:|---:|---:|---|"]
    for fraction, runs in r.items():
        lines.append(f"| {float(fraction):.0%} | {runs['images']} | {spread(runs['plain'])} | "
                     f"{spread(runs['distilled'])} | {runs['plain']} / {runs['distilled']} |")
    return lines + ["", f"![test errors against the transfer set's size]({name}.png)", "", provenance(section), ""]


def plot(result, out, name=NAME):
    fig, ax = figure()
    fractions = [100 * float(f) for f in result]
    for kind in ("plain", "distilled"):
        errorbar(ax, fractions, [runs[kind] for runs in result.values()], kind)
    ax.set(xscale="log", yscale="log", xlabel="% of the training split in the transfer set",
           ylabel="test errors (mean +- std over seeds)", title="Student 600-600: small transfer sets")
    ax.legend()
    save(fig, out / f"{name}.png")
