"""results.json -> results.md (tables in the paper's form) and PNG plots, in the output directory.

Each stage rewrites its own section of results.json with its date, machine and config, so every
number in the report can be traced to the settings that produced it. What a section says is its
stage's (distiller/stages/); what every section shares is here.
"""

import dataclasses
import datetime
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI
import matplotlib.pyplot as plt

from distiller import atomic, kept_seeds
from distiller.evaluate import mean_std

FROM_PAPER_TEACHER = "_from_paper_teacher"  # section suffix of the stages run with --distil-from paper


def machine():
    import keras
    import tensorflow as tf

    return (f"{os.cpu_count()} CPU cores ({platform.machine()}, {processor()}), TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__}")


def processor():
    """Whether the processor has AVX-512, where TensorFlow turns its oneDNN operations on by default: another
    float rounding, so other single-seed counts (means over seeds agree within their spread)."""
    try:
        avx512 = " avx512f " in Path("/proc/cpuinfo").read_text().replace("\n", " ")
    except OSError:
        return "processor unknown"
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return ("AVX-512" if avx512 else "no AVX-512") + (f", TF_ENABLE_ONEDNN_OPTS={onednn}" if onednn else "")


def command_line():
    """This process's command, as the user typed it (train.py or tune.py and its flags), with every absolute path
    made relative to where it ran: the report names no folder of this machine."""
    relative = lambda arg: os.path.relpath(arg) if os.path.isabs(arg) else arg
    program = Path(sys.argv[0])
    if program.name == "__main__.py":
        command = ["python", "-m", program.parent.name]  # python -m distiller
    elif program.suffix == ".py":
        command = ["python", program.name]
    else:
        command = [program.name]  # a console script: distiller-train
    return shlex.join([*command, *map(relative, sys.argv[1:])])


@functools.cache
def commit():
    """The code's git commit, "+ local changes" when the checkout's code (the package, train.py, tune.py,
    pyproject.toml; not tests or docs) differs from it; None outside a git checkout (an installed package).
    Read once per process (cli.main reads it at the start): the code a run loaded, not the checkout an hour later."""
    root = Path(__file__).resolve().parents[1]
    git = lambda *args: subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    head = git("rev-parse", "--short=12", "HEAD")
    if head.returncode != 0:
        return None
    dirty = git("status", "--porcelain", "--", "distiller", "train.py", "tune.py", "pyproject.toml").stdout.strip()
    return head.stdout.strip() + (" + local changes" if dirty else "")


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


def update(out, section, config, result, log=print, seeds=None):
    """Write `result` as `section` of results.json. seeds: the config field that counts the section's seeds, for a
    stage that runs several (its SEEDS): then a run with fewer seeds never takes back the section (kept_seeds.place)."""
    results, config = read_results(out, log), json.loads(json.dumps(dataclasses.asdict(config)))
    name, dropped = (section, []) if seeds is None else kept_seeds.place(results, section, config, seeds, log)
    for gone in dropped:
        del results[gone]
    same = name in results and results[name].get("result") == json.loads(json.dumps(result))
    if same and not dropped:
        return  # the same numbers (a reused model): keep the date and command that produced them
    if not same:  # what produced it, and with which code (the section's models carry their keys: keys.digest)
        results[name] = {"date": datetime.date.today().isoformat(), "machine": machine(), "config": config,
                         "command": command_line(), "commit": commit(), "result": result}
    atomic.write_json(out / "results.json", results)


def sections_of(stage, results):
    """The sections a stage wrote: its name, and its name + FROM_PAPER_TEACHER for --distil-from paper; each followed
    by the sections that runs with fewer seeds set beside it (kept_seeds.place), most seeds first."""
    names = []
    for name in (stage.NAME, stage.NAME + FROM_PAPER_TEACHER):
        names += ([name] if name in results else []) + kept_seeds.beside_sections(results, name)
    return names


def file_stem(name):
    """A section's name as its plots' file name: "widths, seeds=1" -> "widths_seeds1" (no space in a link)."""
    return name.replace(kept_seeds.BESIDE, "_seeds")


def write(out, stages, log=print):
    """Render results.json to results.md and the plots of `stages` (their modules); return the Markdown."""
    results = read_results(out, log)
    text = render(results, stages)
    atomic.write_text(out / "results.md", text)
    for stage in (stage for stage in stages if hasattr(stage, "plot")):
        for name in sections_of(stage, results):
            stage.plot(results[name]["result"], out, file_stem(name))
    return text


def render(results, stages):
    """The models table (a row per saved model, from the stages that have them), then each stage's section."""
    lines, rows, last = ["# Results", ""], [], None
    for stage in stages:
        for name in sections_of(stage, results):
            if hasattr(stage, "table_rows"):
                rows, last = rows + [row(*r) for r in stage.table_rows(results[name])], results[name]
    if rows:
        lines += ["| model | parameters | test accuracy | test errors | errors on 3 | seconds |",
                  "|---|---:|---:|---:|---:|---:|", *rows, "", provenance(last), ""]
    for stage in stages:
        for name in sections_of(stage, results):
            if hasattr(stage, "render"):
                lines += beside_note(name) + stage.render(results[name], file_stem(name))
    return "\n".join(lines) + "\n"


def beside_note(name):
    """The line above a section that a run with fewer seeds set beside the stage's (kept_seeds.place)."""
    main = name.split(kept_seeds.BESIDE)[0]
    if main == name:
        return []
    return [(f"_Beside the section above (`{main}`): a later run with fewer seeds and the same other settings, "
             "kept apart so that it takes back none of that section's results._"), ""]


def row(name, r):
    seconds = "saved" if r.get("seconds") is None else f"{r['seconds']:.0f}"
    return (f"| {name} | {r['parameters']:,} | {100 * r['accuracy']:.2f}% | {r['errors']} | {r['errors_on_3']} "
            f"| {seconds} |")


def spread(values):
    s = mean_std(values)
    return f"{s['mean']:.1f} +- {s['std']:.1f}"


def teacher_of(section):
    """The heading's note on which teacher the opt-in stage distilled from."""
    return ", from the paper's regularized teacher" if section["config"].get("distil_from") == "paper" else ""


def provenance(section, epochs=None, seeds=None, batch=None):
    """The footer naming date, machine, seeds, command and commit; `epochs` (a number, or words), `seeds` and
    `batch` (words) when the stage chose its own."""
    c = section["config"]
    epochs = f"{c['epochs'] if epochs is None else epochs} epochs" if not isinstance(epochs, str) else epochs
    seeds = c["seeds"] if seeds is None else seeds
    batch = batch or f"batch {c['batch_size']}"
    commit = f" at commit {section['commit']}" if section.get("commit") else ""
    return (f"_{section['date']}, {section['machine']}; seed {c['seed']}, {seeds} seed(s), {epochs}, "
            f"{batch}; by `{section.get('command', 'python train.py')}`{commit}._")


def figure(size=(6, 4), ncols=1):
    return plt.subplots(1, ncols, figsize=size)


def save(fig, path):
    fig.tight_layout()
    with atomic.replacing(path) as temp:
        fig.savefig(temp, dpi=100, format=Path(path).suffix.lstrip("."))
    plt.close(fig)


def errorbar(ax, x, runs, label):
    stats = [mean_std(r) for r in runs]
    ax.errorbar(x, [s["mean"] for s in stats], yerr=[s["std"] for s in stats], marker="o", capsize=3, label=label)
