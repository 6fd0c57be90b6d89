"""results.json -> results.md (tables in the paper's form) and PNG plots, in the output directory.

Each stage rewrites its own section of results.json with its date, machine and config, so
every number in the report can be traced to the settings that produced it.
"""

import dataclasses
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only: no display on servers or in CI
import matplotlib.pyplot as plt

from distiller import atomic
from distiller.evaluate import mean_std
from distiller.where_it_pays import FROM_PAPER_TEACHER, PAPER


def machine():
    import keras
    import tensorflow as tf

    return f"{os.cpu_count()} CPU cores ({platform.machine()}), TensorFlow {tf.__version__}, Keras {keras.__version__}"


def command_line():
    """This process's command, as the user typed it (train.py or tune.py and its flags)."""
    return shlex.join(["python", Path(sys.argv[0]).name, *sys.argv[1:]])


def read_results(out, log=print):
    """results.json as a dict; an unreadable one is moved aside (never deleted) and {} returned."""
    path = out / "results.json"
    if not path.exists():
        return {}
    try:
        results = json.loads(path.read_text())
        if isinstance(results, dict):
            return results
        problem = "is not a JSON object"
    except (OSError, ValueError) as e:
        problem = f"is unreadable ({type(e).__name__})"
    aside = path.with_name(f"results.json.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    log(f"warning: {path} {problem}; moved it to {aside} and started a new one")
    return {}


def update(out, section, config, result, log=print):
    results = read_results(out, log)
    results[section] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "config": dataclasses.asdict(config),
        "command": command_line(),  # what produced it
        "result": result,
    }
    atomic.write_json(out / "results.json", results)


def write(out, log=print):
    """Render results.json to results.md and the plots; return the Markdown."""
    results = read_results(out, log)
    text = render(results)
    atomic.write_text(out / "results.md", text)
    if "class3" in results:
        plot_bias_curve(results["class3"]["result"], out / "class3_bias.png")
    for name in results:  # "fractions", or "fractions_from_paper_teacher" for `--distil-from paper`
        if name.startswith("fractions"):
            plot_fractions(results[name]["result"], out / f"{name}.png")
        if name.startswith("widths"):
            plot_widths(results[name]["result"], out / f"{name}.png")
    return text


def row(name, r):
    seconds = "saved" if r.get("seconds") is None else f"{r['seconds']:.0f}"
    return f"| {name} | {r['parameters']:,} | {100 * r['accuracy']:.2f}% | {r['errors']} | {r['errors_on_3']} | {seconds} |"


def render(results):
    lines = ["# Results", ""]
    if "teacher" in results:
        lines += ["| model | parameters | test accuracy | test errors | errors on 3 | seconds |", "|---|---:|---:|---:|---:|---:|"]
        lines.append(row("Teacher 1200-1200", results["teacher"]["result"]))
        if "students" in results:
            s = results["students"]["result"]
            lines.append(row(f"Student 600-600 (seed {s['student'][0]['seed']})", s["student"][0]))
            lines.append(row(f"Student2.0 600-600 (seed {s['student_kd'][0]['seed']})", s["student_kd"][0]))
        lines += ["", provenance(results["students" if "students" in results else "teacher"]), ""]
    if "students" in results:
        lines += render_seeds(results["students"])
    if "class3" in results:
        lines += render_class3(results["class3"])
    for stage, render_section in (("paper", render_paper), ("fractions", render_fractions),
                                  ("widths", render_widths), ("digits78", render_digits78)):
        for name in (stage, f"{stage}{FROM_PAPER_TEACHER}"):
            if name in results:
                lines += render_section(results[name], name) + ["", provenance(results[name]), ""]
    return "\n".join(lines) + "\n"


def spread(values):
    s = mean_std(values)
    return f"{s['mean']:.1f} +- {s['std']:.1f}"


def teacher_of(section):
    """The heading's note on which teacher the opt-in stage distilled from."""
    if section["config"].get("distil_from", "teacher") == "paper":
        return ", from the paper's regularized teacher"
    return ""


def render_paper(section, name="paper"):
    r, paper = section["result"], PAPER["paper_protocol"]
    names = {"paper": "the paper's T", "tuned": "the tuner's best"}
    lines = ["## The paper's protocol: a regularized teacher", "",
             (f"Teacher 1200-1200 with 2-pixel jitter, dropout and max-norm: **{r['teacher']}** test errors "
              f"(paper {paper['teacher']}; best public MLP reproduction {paper['best_public_mlp'][0]}). "
              "Students without regularization, plain and distilled; a distilled student and its plain twin "
              "start from the same weights, so their difference is paired."), "",
             "| student | distillation | test errors | paired difference | per seed |", "|---|---|---:|---:|---|"]
    for width in ("800", "600"):
        plain = r[width]["plain"]
        lines.append(f"| {width}-{width} | none (plain) | {spread(plain)} | | {plain} |")
        for setting, s in r["settings"].items():
            kd = r[width][setting]
            lines.append(f"| {width}-{width} | {names[setting]}: T = {s['temperature']:g}, lambda = {s['lambda_']:g} | "
                         f"{spread(kd)} | {spread(np.subtract(kd, plain))} | {kd} |")
    lines += ["", (f"Paper (800-800): plain {paper['student']}, distilled {paper['student_kd']}; best public MLP "
              f"reproduction: plain {paper['best_public_mlp'][1]}, distilled {paper['best_public_mlp'][2]}.")]
    return lines


def render_fractions(section, name="fractions"):
    r = section["result"]
    lines = [f"## Small transfer sets (Student 600-600{teacher_of(section)})", "",
             "| fraction | images | plain: test errors | distilled | per seed (plain / distilled) |",
             "|---:|---:|---:|---:|---|"]
    for fraction, runs in r.items():
        lines.append(f"| {float(fraction):.0%} | {runs['images']} | {spread(runs['plain'])} | "
                     f"{spread(runs['distilled'])} | {runs['plain']} / {runs['distilled']} |")
    return lines + ["", f"![test errors against the transfer set's size]({name}.png)"]


def render_widths(section, name="widths"):
    r = section["result"]
    temperatures = list(next(iter(r.values()))["distilled"])
    lines = [f"## Small students across temperatures{teacher_of(section)} (test errors, mean +- std)", "",
             "| width | plain | " + " | ".join(f"T={float(t):g}" for t in temperatures) + " |",
             "|---:|---:|" + "---:|" * len(temperatures)]
    for width, runs in r.items():
        cells = " | ".join(spread(runs["distilled"][t]) for t in temperatures)
        lines.append(f"| {width}-{width} | {spread(runs['plain'])} | {cells} |")
    return lines + ["", "Paper: T in 2.5-4 works best for 30 units; above 8 all T are alike for 300 or more.", "",
                    f"![test errors against T]({name}.png)"]


def render_digits78(section, name="digits78"):
    r, paper = section["result"], PAPER["digits78"]
    return [f"## A transfer set of 7s and 8s only (Student 800-800{teacher_of(section)})", "",
            "| | test error | bias of 7 and 8 | paper |", "|---|---:|---:|---:|",
            f"| distilled | {r['error_percent']:.1f}% | 0 | {paper['error_percent']}% |",
            (f"| biases lowered (b chosen on validation) | {r['shifted_error_percent']:.1f}% | {r['bias']:+g} | "
            f"{paper['shifted_error_percent']}% at {paper['bias']:+g} |")]


def render_seeds(section):
    s, c = section["result"]["statistics"], section["config"]
    per_seed = lambda name: ", ".join(str(r["errors"]) for r in section["result"][name])
    return [
        f"## Student vs Student2.0 over {s['n']} seed(s) (T={c['temperature']:g}, lambda={c['lambda_']:g})", "",
        "| model | test errors, mean +- std | per seed |", "|---|---:|---|",
        f"| Student | {s['student']['mean']:.1f} +- {s['student']['std']:.1f} | {per_seed('student')} |",
        f"| Student2.0 | {s['student_kd']['mean']:.1f} +- {s['student_kd']['std']:.1f} | {per_seed('student_kd')} |",
        f"| paired difference (Student2.0 - Student) | {s['difference']['mean']:+.1f} +- {s['difference']['std']:.1f} | |",
        "",
    ]


def render_class3(section):
    r, paper = section["result"], section["result"]["paper"]
    rec = r["records"]
    return [
        "## The class-3 experiment (Hinton et al. section 3)", "",
        (f"Student2.0(-3) is distilled on the training split with every 3 removed; the bias of output 3 is then "
         f"raised by b = +{r['bias']:g}, chosen on the validation split ({r['rule']}). "
         f"Test set: {r['test_threes']} threes."), "",
        "| model | test errors | errors on 3 | paper: errors | paper: errors on 3 |", "|---|---:|---:|---:|---:|",
        f"| Student2.0 | {rec['student_kd']['errors']} | {rec['student_kd']['errors_on_3']} | {paper['student_kd']['errors']} | |",
        f"| Student2.0(-3) | {rec['minus3']['errors']} | {rec['minus3']['errors_on_3']} | {paper['minus3']['errors']} | {paper['minus3']['errors_on_3']} |",
        (f"| Student2.0(-3) + b (b = +{r['bias']:g}; paper +{paper['bias']:g}) | {rec['shifted']['errors']} | "
         f"{rec['shifted']['errors_on_3']} | {paper['shifted']['errors']} | {paper['shifted']['errors_on_3']} |"),
        "", "![validation errors against the bias of output 3](class3_bias.png)", "", provenance(section), "",
    ]


def provenance(section):
    c = section["config"]
    return (f"_{section['date']}, {section['machine']}; seed {c['seed']}, {c['seeds']} seed(s), {c['epochs']} epochs, "
            f"batch {c['batch_size']}; by `{section.get('command', 'python train.py')}`._")


def plot_bias_curve(result, path):
    curve = result["curve"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["bias"], curve["errors_on_digit"], label="errors on 3s")
    ax.plot(curve["bias"], curve["errors_on_others"], label="errors on other digits")
    ax.axvline(result["bias"], color="gray", linestyle="--", label=f"chosen b = +{result['bias']:g}")
    ax.set(xlabel="b added to the bias of output 3", ylabel="validation errors", title="Student2.0(-3): the bias shift")
    ax.legend()
    fig.tight_layout()
    atomic.save_figure(fig, path)
    plt.close(fig)


def render_search(rows, best, meta):
    """The tuner's trials, best first, with the gain over the plain Student and where distillation hurt."""
    val_size, plain = meta["val_size"], best["plain_student_val_accuracy"]
    errors = lambda accuracy: round((1 - accuracy) * val_size)
    hurt = sorted({(r["lambda_"], r["temperature"]) for r in rows if r["lambda_"] > 0 and r["val_accuracy"] < plain})
    lines = [
        "# Search of lambda and T (validation split only)", "",
        (f"_{meta['date']}, {meta['machine']}; `{meta['command']}`: {meta['tuner']} tuner, {len(rows)} trials, "
        f"{meta['epochs']} epochs per trial, seed {meta['seed']}, {meta['seconds']:.0f} s of wall time._"), "",
        (f"Best: T = {best['temperature']:g}, lambda = {best['lambda_']:g}: validation accuracy "
        f"{100 * best['val_accuracy']:.2f}% ({errors(best['val_accuracy'])} errors of {val_size}) against "
        f"{100 * plain:.2f}% ({errors(plain)} errors) for the plain Student trained {meta['epochs']} epochs "
        f"from the same initial weights: a gain of {errors(plain) - errors(best['val_accuracy'])} errors."), "",
        "Distillation hurt (lambda > 0, below the plain Student) at (lambda, T): "
        + (", ".join(f"({lam:g}, {t:g})" for lam, t in hurt) or "nowhere among these trials") + ".", "",
        "| trial | T | lambda | val accuracy | val errors | epochs | best epoch | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['trial']} | {r['temperature']:g} | {r['lambda_']:g} | {100 * r['val_accuracy']:.2f}% | "
                     f"{errors(r['val_accuracy'])} | {r['epochs']} | {r['best_epoch']} | {r['seconds']} |")
    lines += ["", "![validation accuracy against T](accuracy_vs_temperature.png)", "",
              "![lambda x T heatmap](heatmap.png)", ""]
    return "\n".join(lines)


def plot_search(rows, plain_accuracy, folder):
    temperatures = sorted({r["temperature"] for r in rows})
    lambdas = sorted({r["lambda_"] for r in rows})
    grid = np.full((len(lambdas), len(temperatures)), np.nan)
    for lam in lambdas:  # the best score where a pair was tried more than once (Hyperband rounds)
        for r in (r for r in rows if r["lambda_"] == lam):
            i, j = lambdas.index(lam), temperatures.index(r["temperature"])
            grid[i, j] = np.nanmax([grid[i, j], 100 * r["val_accuracy"]])

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, lam in enumerate(lambdas):
        tried = ~np.isnan(grid[i])
        ax.plot(np.array(temperatures)[tried], grid[i][tried], "o-", label=f"lambda = {lam:g}")
    ax.axhline(100 * plain_accuracy, color="gray", linestyle="--", label="plain Student")
    ax.set(xscale="log", xlabel="temperature T", ylabel="validation accuracy (%)", title="Student2.0 by T and lambda")
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic.save_figure(fig, folder / "accuracy_vs_temperature.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(temperatures)), [f"{t:g}" for t in temperatures])
    ax.set_yticks(range(len(lambdas)), [f"{lam:g}" for lam in lambdas])
    for (i, j), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white")
    ax.set(xlabel="temperature T", ylabel="lambda", title="validation accuracy (%); blank: not tried")
    fig.colorbar(image)
    fig.tight_layout()
    atomic.save_figure(fig, folder / "heatmap.png")
    plt.close(fig)


def errorbar(ax, x, runs, label):
    stats = [mean_std(r) for r in runs]
    ax.errorbar(x, [s["mean"] for s in stats], yerr=[s["std"] for s in stats], marker="o", capsize=3, label=label)


def plot_fractions(result, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    fractions = [100 * float(f) for f in result]
    for kind in ("plain", "distilled"):
        errorbar(ax, fractions, [runs[kind] for runs in result.values()], kind)
    ax.set(xscale="log", yscale="log", xlabel="% of the training split in the transfer set",
           ylabel="test errors (mean +- std over seeds)", title="Student 600-600: small transfer sets")
    ax.legend()
    fig.tight_layout()
    atomic.save_figure(fig, path)
    plt.close(fig)


def plot_widths(result, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for width, runs in result.items():
        temperatures = [float(t) for t in runs["distilled"]]
        errorbar(ax, temperatures, list(runs["distilled"].values()), f"{width}-{width} distilled")
        ax.axhline(mean_std(runs["plain"])["mean"], linestyle="--", color=ax.lines[-1].get_color(),
                   label=f"{width}-{width} plain")
    ax.set(xscale="log", yscale="log", xlabel="temperature T", ylabel="test errors (mean +- std over seeds)",
           title="Small students across temperatures")
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic.save_figure(fig, path)
    plt.close(fig)
