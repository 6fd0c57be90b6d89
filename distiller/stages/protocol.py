"""`python train.py protocol`: the paper's protocol, one difference at a time, then refit (issue 40).

Hinton et al. 2015's 800-800 student, distilled without translations, makes 74 test errors; the paper stage's, 89.7.
The screen: each arm of config.PROTOCOL_ARMS changes one thing from the paper stage's recipe ("today"): the
objective's weighting, the dropout paper's SGD and its length, its initial weights, its input scaling, its teacher;
"all" changes every one. One seed per arm, validation only (no test number is read there); every arm records its
validation curve (curve.ValidationCurve), so that a dropout-SGD arm's length can be read off it. The arm of lowest
validation NLL is chosen. The refit (refit.py): the chosen recipe on all 60,000 images, 3 seeds, on test.

The nets and their teachers are in protocol_nets.py. The dropout paper's teacher (3000 epochs: hours) and the refit's
teachers are backed up every epoch and resume across sessions; they are saved in OUT_DIR/protocol/ under their keys.
"""

import json

from distiller import make_run_teacher, refit, report
from distiller.config import PROTOCOL_ARMS
from distiller.evaluate import mean_std
from distiller.models import STUDENT_UNITS
from distiller.per_seed import work
from distiller.protocol_nets import NAME, TEACHER_UNITS, UNITS, Nets, score

NEEDS_TEACHER = False  # distils from the committed paper teacher and the dropout paper's teacher
NEEDS_PAPER_TEACHER = True  # "today" and most arms distil from it
KEEP_UNITS = True  # hours of runs, across sessions
SEEDS = ("protocol_refit_seeds", "protocol_make_run_seeds")  # its seed counts: fewer never take it back (kept_seeds)
SHOWS = "val_errors"  # screening: validation only
# Hinton et al. 2015 (MNIST): teacher 67 test errors, 800-800 student 146, distilled without translations 74; class
# 3: 206 errors (133 on 3s), +3.5 on the bias of 3: 109 (14).
PAPER = {"teacher": 67, "plain": 146, "distilled": 74, "class3": {"errors": 206, "errors_on_3": 133, "bias": 3.5,
                                                                  "shifted": 109, "shifted_on_3": 14}}


def run(ctx, progress):
    config = ctx.config
    progress.expect(len(config.protocol_rates) + len(config.protocol_teacher_rates) + len(PROTOCOL_ARMS)
                    + 2 * config.protocol_make_run_seeds + 3 * config.protocol_refit_seeds,
                    work=sum(work(*cost) for cost in costs(config)))
    nets = Nets(ctx, progress)
    probe = {f"{rate:g}": nets.screened({"optimizer": "dropout_sgd", "batch_size": 100, "learning_rate": rate,
                                         "epochs": config.protocol_probe_epochs}, f"probe eps0={rate:g}")
             for rate in config.protocol_rates}
    nets.rate = float(min(probe, key=lambda r: score(probe[r])))
    ctx.log(f"Protocol: the student's SGD rate eps0 = {nets.rate:g} (lowest validation NLL after "
            f"{config.protocol_probe_epochs} epochs; {', '.join(f'{r}: {score(v):.4f}' for r, v in probe.items())})")
    arms = {name: screened_arm(nets, name) for name in PROTOCOL_ARMS}
    chosen = min(arms, key=lambda name: score(arms[name]))
    length = arms[chosen]["length"]
    ctx.log(f"Protocol: chosen on validation (the lowest validation NLL): {chosen}, {length} epochs; refit on all "
            f"{len(refit.all_images(ctx.data)[0]):,} images, {config.protocol_refit_seeds} seeds")
    make_run = make_run_teacher.compare(nets, nets.make_run_targets)  # item 7, before the refit's hours
    ctx.log(f"Protocol: {make_run_teacher.verdict_line(make_run)}")
    screen = {"probe": probe, "rate": nets.rate, "arms": arms, "chosen": chosen, "length": length,
              "teacher": nets.teacher_record, "paper": PAPER, "make_run_teacher": make_run}
    write_screen(ctx, screen)
    return {**screen, "refit": refit.get_or_train_refit(nets, PROTOCOL_ARMS[chosen][0], length)}


def write_screen(ctx, screen):
    """The screen's section, its refit pending, written before the refit's hours (sessions): the ablation is a result
    of its own. Not when results.json holds this screen already (with its refit: a rerun keeps its date)."""
    earlier = report.read_results(ctx.out, ctx.log).get(NAME, {}).get("result") or {}
    if {k: v for k, v in earlier.items() if k != "refit"} != json.loads(json.dumps(screen)):
        report.update(ctx.out, NAME, ctx.config, {**screen, "refit": None}, ctx.log, seeds=SEEDS)


def screened_arm(nets, name):
    changes, source = PROTOCOL_ARMS[name]
    return {**nets.screened(changes, name), "changes": {k: nets.resolve(v) for k, v in changes.items()},
            "source": source}


def costs(config):
    """(width, epochs) of every unit, for the time left (the teachers are not units: not counted; the dropout
    paper teacher's probes, with dropout and jitter, cost about 3 plain epochs an epoch; the refit's students are
    counted at today's length: the choice is not known yet, and an SGD arm's is longer)."""
    student = [(UNITS[0], config.protocol_probe_epochs)] * len(config.protocol_rates)
    student += [(TEACHER_UNITS[0], 3 * config.protocol_probe_epochs)] * len(config.protocol_teacher_rates)
    for changes, _ in PROTOCOL_ARMS.values():
        student.append((UNITS[0], config.protocol_epochs if changes.get("epochs") else config.protocol_today[2]))
    student += [(STUDENT_UNITS[0], config.kd_epochs)] * 2 * config.protocol_make_run_seeds
    return student + [(UNITS[0], config.protocol_today[2])] * 3 * config.protocol_refit_seeds


def render(section, name=NAME):
    r = section["result"]
    lines = [f"## The paper's protocol, one difference at a time ({name}; 1 seed, validation only)", "",
             f"The student's SGD rate, probed: eps0 = {r['rate']:g} (validation NLL: "
             + ", ".join(f"{k}: {v['val_nll']:.4f}" for k, v in r["probe"].items()) + ").", "",
             "| arm | what changes | source | epochs | validation errors | validation NLL | seconds |",
             "|---|---|---|---:|---:|---:|---:|"]
    for arm, a in r["arms"].items():
        lines.append(f"| {arm} | {changes_text(arm, r['arms'])} | {a['source']} | {a['length']} | {a['val_errors']} | "
                     f"{a['val_nll']:.4f} | {a['seconds']:.0f} |")
    t = r["teacher"]
    if t:  # the dropout paper's teacher, when an arm used it
        lines += ["", f"The dropout paper's teacher: eps0 = {t['rate']:g} (probed: "
                  + ", ".join(f"{k}: NLL {v['val_nll']:.4f}" for k, v in t["probe"].items())
                  + f"), {t['last'][0]} epochs (its lowest validation NLL after {t['length']}), "
                  f"{t['val_errors']} validation errors, {t['seconds']:.0f} s."]
    lines += ["", f"Chosen (lowest validation NLL): **{r['chosen']}**, {r['length']} epochs.", ""]
    if r.get("make_run_teacher"):  # item 7; a section written before it existed has none
        lines += [make_run_teacher.verdict_line(r["make_run_teacher"]), ""]
    if r.get("refit"):
        lines += render_refit(r["refit"], r["paper"])
    else:  # written after the screen, before the refit's hours
        lines += ["The refit on all 60,000 images: not run yet (`python train.py protocol` resumes it).", ""]
    return lines + [report.provenance(section, epochs="epochs per arm", seeds=1, batch="batch per arm"), ""]


def changes_text(arm, arms):
    """An arm's changes as key=value, or "every change above" for the arm that makes all the others' ("all")."""
    changes = arms[arm]["changes"]
    others = [a["changes"] for name, a in arms.items() if name != arm and a["changes"]]
    if len(others) > 1 and all(c.items() <= changes.items() for c in others):
        return "every change above"
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in changes.items()) or "nothing"


CLASS3_TEXT = ("Class 3, like for like: Student2.0(-3) is distilled as the row above is, from the same teacher, on the "
               "{class3_images:,} training images without their 3s; b is chosen on the {held_out:,} validation images "
               "it never saw.")


def render_refit(refit_result, paper):
    """The refit's test rows (mean ± sd over seeds, each seed's) and class 3, beside the paper's."""
    def cell(values):
        m = mean_std(values)
        return f"{m['mean']:.1f} ± {m['std']:.1f} ({', '.join(str(v) for v in values)})"

    def row(title, values, theirs=""):
        return f"| {title} | {cell(values)} | {theirs} |"

    seeds = refit_result["seeds"]
    machines = sorted({s[r]["machine"] for s in seeds for r in (*refit.ROWS, "class3")})
    c3 = [s["class3"] for s in seeds]
    pc = paper["class3"]
    lines = [f"### The chosen recipe refit on all {refit_result['images']:,} images ({len(seeds)} seed(s), test)", "",
             "| row | test errors: mean ± sd (per seed) | paper |", "|---|---:|---:|",
             row("teacher", [s["teacher"]["errors"] for s in seeds], paper["teacher"]),
             row("800-800 plain", [s["plain"]["errors"] for s in seeds], paper["plain"]),
             row("800-800 distilled, no translations", [s["distilled"]["errors"] for s in seeds], paper["distilled"]),
             "", CLASS3_TEXT.format(**refit_result), "", "| model | test errors | errors on 3 |", "|---|---:|---:|",
             row("Student2.0 (the distilled row)", [s["distilled"]["errors"] for s in seeds],
                 cell([s["distilled"]["errors_on_3"] for s in seeds])),
             row("Student2.0(-3)", [c["errors"] for c in c3], cell([c["errors_on_3"] for c in c3]))]
    for name, rule in c3[0]["rules"].items():
        biases = ", ".join(f"+{c['rules'][name]['bias']:g}" for c in c3)
        lines.append(row(f"+ b, {rule['rule']} (b = {biases})", [c["rules"][name]["errors"] for c in c3],
                         cell([c["rules"][name]["errors_on_3"] for c in c3])))
    lines += [f"| paper: Student2.0(-3) | {pc['errors']} | {pc['errors_on_3']} |",
              f"| paper: + {pc['bias']:g} | {pc['shifted']} | {pc['shifted_on_3']} |", "",
              f"Trained on: {'; '.join(machines)}" + (" (a seed's rows on one machine)" if len(machines) == 1 else
                                                        " (check that each seed's rows share one)"), ""]
    return lines
