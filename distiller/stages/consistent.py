"""Patient and consistent distillation (Beyer et al. 2022) from the paper stage's regularized teacher.

The paper's jitter has 25 views of each image, so the teacher's logits for all of them are cached once
(cache.view_logits); a consistent student sees a random view at every step, taught by the logits of that
very view. Five rows per seed and width, each from the same initial weights and for the same epochs:

  plain             labels, the unshifted images
  plain_jitter      labels, the same random jitter (the control: what the augmentation alone gives)
  fixed             distilled from the teacher's logits on the unshifted images (the paper stage's way)
  consistent        distilled from a random view and its cached logits
  consistent_soft   the same from the soft targets alone (no hard-label term)

The epochs are chosen on the validation split among config.consistent_epochs (consistent row, first seed,
first width); those runs and the fixed row's at the same epochs give the "patience" curve. Fidelity on the
test set: top-1 agreement with the teacher and the mean KL(teacher || student) at T = 1.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from distiller import keys
from distiller.errors import DistillerError
from distiller.evaluate import count_errors, mean_std, predictions
from distiller.report import figure, provenance, save
from distiller.stages.shared import fit_student, new_student, seeds_of
from distiller.training import key, logits

NAME = "consistent"
KEEP_UNITS = True  # hours of runs: a later run with more seeds, widths or epochs reuses the finished ones
KINDS = ("plain", "plain_jitter", "fixed", "consistent", "consistent_soft")
TITLES = {"plain": "plain", "plain_jitter": "plain, same jitter", "fixed": "distilled, fixed views",
          "consistent": "distilled, consistent views", "consistent_soft": "consistent, soft targets only"}
SETTING = {"temperature": 20.0, "lambda_": 1.0}  # the paper's T for MNIST, as in the paper stage
# Hinton et al.: regularized teacher 67, plain 800-800 146, distilled 74.
PAPER = {"teacher": 67, "plain": 146, "fixed": 74}


def run(ctx, progress):
    config, data = dataclasses.replace(ctx.config, **SETTING), ctx.data
    soft = ctx.paper_targets(radius(config.consistent_teacher_views))
    runs = Runs(config, data, soft, progress)
    first_width, first_seed = config.consistent_widths[0], config.seed
    # The curve's two runs at the chosen epochs are also rows of the first width and seed: counted once.
    progress.expect(2 * len(config.consistent_epochs) + len(config.consistent_widths) * len(KINDS) * config.seeds - 2)
    curve = {kind: {str(e): runs.one(first_width, kind, first_seed, e) for e in config.consistent_epochs}
             for kind in ("fixed", "consistent")}
    chosen = min(config.consistent_epochs, key=lambda e: (curve["consistent"][str(e)]["val_errors"], e))
    ctx.log(f"Consistent distillation: {chosen} epochs, {choice(curve)}")
    # Seed by seed, every row of a seed before the next seed: a run stopped early leaves complete, paired seeds.
    done = {(width, seed, kind): runs.one(width, kind, seed, chosen)
            for width in config.consistent_widths for seed in seeds_of(config) for kind in KINDS}
    rows = {str(width): {kind: [done[width, seed, kind] for seed in seeds_of(config)] for kind in KINDS}
            for width in config.consistent_widths}
    teacher_errors = {"errors": count_errors(predictions(soft["test"]), data.test[1]),
                      "val_errors": count_errors(predictions(soft["fixed"][1]), data.val[1]),
                      "views": config.consistent_teacher_views}
    return {"teacher": teacher_errors, "setting": SETTING,
            "epochs": chosen, "curve": curve, "rows": rows, "paper": PAPER}


def choice(curve):
    """Why the epochs were chosen, in words: the validation errors of every candidate (a margin of one or two
    errors of 5,000 is within the noise, and the reader should see it)."""
    errors = ", ".join(f"{e} epochs {run['val_errors']}" for e, run in curve["consistent"].items())
    return f"the fewest validation errors of the consistent row, first seed and width ({errors})"


def radius(views):
    """1, 9, 25 views -> the shifts of at most 0, 1, 2 pixels around a view that the teacher is averaged over."""
    r = (math.isqrt(views) - 1) // 2
    if views < 1 or (2 * r + 1) ** 2 != views:
        raise DistillerError(f"the teacher can be averaged over 1, 9, 25, ... views (an odd square), not {views}")
    return r


class Runs:
    """One student per (width, kind, seed, epochs), each a unit of `progress`: its test errors, validation
    errors and fidelity to the teacher."""

    def __init__(self, config, data, soft, progress):
        self.config, self.data, self.soft, self.progress = config, data, soft, progress

    def one(self, width, kind, seed, epochs):
        config = dataclasses.replace(self.config, epochs=epochs, hard_labels=kind != "consistent_soft")
        targets = self.targets(kind)
        # Trained without the teacher (plain rows) but measured against it: another teacher, another unit.
        artifact_key = key(config, self.data.train, seed, None if targets is None else targets[0],
                           model=f"mlp {width}-{width}", row=kind, measured_against=self.soft["teacher_id"])
        unit = f"{width}-{kind}-E{epochs}-seed{seed}-{keys.digest(artifact_key)}"
        label = f"Student {width}-{width} {TITLES[kind]}, {epochs} epochs (seed {seed})"
        return self.progress.run(unit, lambda backup: self.train(config, width, kind, seed, targets, backup,
                                                                 artifact_key), label)

    def targets(self, kind):
        return {"fixed": self.soft["fixed"], "consistent": self.soft["views"],
                "consistent_soft": self.soft["views"]}.get(kind)

    def train(self, config, width, kind, seed, targets, backup, artifact_key):
        student = new_student((width, width), seed)  # the same initial weights in every row
        fit_student(student, self.data, config, targets, jitter=kind == "plain_jitter", verbose=0, backup_dir=backup,
                    name=f"Student {width}-{width} {kind} (seed {seed})", seed=seed, artifact_key=artifact_key)
        return self.measure(student)

    def measure(self, student):
        test = logits(student, self.data.test[0])
        teacher = self.soft["test"]
        kl = tf.reduce_mean(tf.reduce_sum(tf.nn.softmax(teacher) * (tf.nn.log_softmax(teacher)
                                                                    - tf.nn.log_softmax(test)), axis=-1))
        return {"errors": count_errors(predictions(test), self.data.test[1]),
                "val_errors": count_errors(predictions(logits(student, self.data.val[0])), self.data.val[1]),
                "agreement": float(np.mean(predictions(test) == predictions(teacher))), "kl": float(kl)}


def render(section, name=NAME):
    r = section["result"]
    teacher = "paper teacher"
    if r["teacher"].get("views", 1) > 1:
        teacher += f" over {r['teacher']['views']} views"
    heading = (f"## Patient and consistent distillation ({teacher}: {r['teacher']['errors']} test errors; "
               f"T = {r['setting']['temperature']:g}, lambda = {r['setting']['lambda_']:g}; {r['epochs']} epochs, "
               "chosen on validation)")
    columns = ("| student | row | test errors, mean +- std | per seed | paired difference vs plain, same jitter | "
               "agreement with the teacher | KL(teacher, student) |")
    lines = [heading, "", columns, "|---|---|---:|---|---:|---:|---:|"]
    for width, rows in r["rows"].items():
        control = [run["errors"] for run in rows["plain_jitter"]]
        for kind, runs in rows.items():
            errors = [run["errors"] for run in runs]
            s, d = mean_std(errors), mean_std(np.subtract(errors, control))
            lines.append(f"| {width}-{width} | {TITLES[kind]} | {s['mean']:.1f} +- {s['std']:.1f} | "
                         f"{', '.join(map(str, errors))} | {d['mean']:+.1f} +- {d['std']:.1f} | "
                         f"{100 * np.mean([run['agreement'] for run in runs]):.2f}% | "
                         f"{np.mean([run['kl'] for run in runs]):.4f} |")
    paper = r["paper"]
    return lines + ["", f"The epochs: {r['epochs']}, {choice(r['curve'])}.",
                    "", (f"Paper: teacher {paper['teacher']}, plain 800-800 {paper['plain']}, distilled {paper['fixed']}. "
                         "The patience curve (first seed, first width): test errors and agreement against epochs."),
                    "", f"![the patience curve]({name}.png)", "", provenance(section, epochs=r["epochs"]), ""]


def plot(result, out, name=NAME):
    fig, axes = figure(size=(10, 4), ncols=2)
    for kind, runs in result["curve"].items():
        epochs = [int(e) for e in runs]
        axes[0].plot(epochs, [run["errors"] for run in runs.values()], marker="o", label=TITLES[kind])
        axes[1].plot(epochs, [100 * run["agreement"] for run in runs.values()], marker="o", label=TITLES[kind])
    axes[0].set(xlabel="epochs", ylabel="test errors", title="Patience: test errors")
    axes[1].set(xlabel="epochs", ylabel="top-1 agreement with the teacher (%)", title="Patience: fidelity")
    axes[0].legend()
    save(fig, out / f"{name}.png")
