"""Small students across temperatures: students of config.widths units per layer, plain and distilled
at each of config.temperatures (the paper: T 2.5-4 best for 30 units, all T alike from 300 up)."""

from distiller import resume
from distiller.evaluate import mean_std
from distiller.per_seed import distilled_per_setting, errors_per_seed, seeds_of
from distiller.report import errorbar, figure, provenance, save, spread, teacher_of

NAME = "widths"
DISTIL_FROM = True  # its teacher is --distil-from's, and its section is named after it
SEEDS = "seeds"  # the config field that counts its section's seeds: fewer never take it back (kept_seeds.place)


def small_students(config, data, teacher_logits, progress=resume.UNRECORDED, log=print):
    """Students of config.widths units per layer: plain, and distilled at each of config.temperatures."""
    result = {}
    progress.expect(len(config.widths) * (1 + len(config.temperatures)) * config.seeds)
    for width in config.widths:
        log(f"Student {width}-{width} on labels, seeds {seeds_of(config)}")
        settings = {str(t): (t, config.lambda_) for t in config.temperatures}
        result[str(width)] = {"plain": errors_per_seed(config, data, (width, width), seeds_of(config),
                                                       progress=progress),
                              "distilled": distilled_per_setting(config, data, (width, width), teacher_logits,
                                                                 settings, progress, log)}
    return result


def run(ctx, progress):
    return small_students(ctx.config, ctx.data, ctx.transfer_logits(), progress, ctx.log)


def render(section, name=NAME):
    r = section["result"]
    temperatures = list(next(iter(r.values()))["distilled"])
    lines = [f"## Small students across temperatures{teacher_of(section)} (test errors, mean +- std)", "",
             "| width | plain | " + " | ".join(f"T={float(t):g}" for t in temperatures) + " |",
             "|---:|---:|" + "---:|" * len(temperatures)]
    for width, runs in r.items():
        cells = " | ".join(spread(runs["distilled"][t]) for t in temperatures)
        lines.append(f"| {width}-{width} | {spread(runs['plain'])} | {cells} |")
    return lines + ["", "Paper: T in 2.5-4 works best for 30 units; above 8 all T are alike for 300 or more.", "",
                    f"![test errors against T]({name}.png)", "", provenance(section), ""]


def plot(result, out, name=NAME):
    fig, ax = figure()
    for width, runs in result.items():
        temperatures = [float(t) for t in runs["distilled"]]
        errorbar(ax, temperatures, list(runs["distilled"].values()), f"{width}-{width} distilled")
        ax.axhline(mean_std(runs["plain"])["mean"], linestyle="--", color=ax.lines[-1].get_color(),
                   label=f"{width}-{width} plain")
    ax.set(xscale="log", yscale="log", xlabel="temperature T", ylabel="test errors (mean +- std over seeds)",
           title="Small students across temperatures")
    ax.legend(fontsize=8)
    save(fig, out / f"{name}.png")
