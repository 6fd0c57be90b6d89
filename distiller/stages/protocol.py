"""`python train.py protocol`: the paper's protocol, one difference at a time (issue 40).

Hinton et al. 2015's 800-800 student, distilled without translations, makes 74 test errors; the paper stage's, 89.7.
Each arm of config.PROTOCOL_ARMS changes one thing from the paper stage's recipe ("today"): the objective's
weighting, the dropout paper's SGD and its length, its initial weights, its input scaling, its teacher; "all"
changes every one. One seed per arm, screened on validation only (no test number is read here); every arm records
its validation curve (curve.ValidationCurve), so that a dropout-SGD arm's length can be read off it.

The student's SGD rate is not in the sources (the dropout paper gives its regularized nets' only): it is probed
first (config.protocol_rates, config.protocol_probe_epochs), the lowest validation NLL winning. The dropout paper's
teacher (config.DROPOUT_PAPER_TEACHER, 3000 epochs: hours) is trained here, backed up every epoch, and resumes
across sessions; it is saved in OUT_DIR/protocol/ under its key.
"""

import dataclasses
import math

import keras
import numpy as np

from distiller import artifacts, cache, keys, models, resume
from distiller.config import DROPOUT_PAPER_TEACHER, PROTOCOL_ARMS
from distiller.curve import ValidationCurve, best_length
from distiller.evaluate import count_errors, predictions
from distiller.per_seed import unit_name
from distiller.report import machine, provenance
from distiller.training import distil, train_on_labels, training_key

NAME = "protocol"
NEEDS_TEACHER = False  # distils from the committed paper teacher and the dropout paper's teacher
NEEDS_PAPER_TEACHER = True  # "today" and most arms distil from it
KEEP_UNITS = True  # hours of runs, across sessions
SHOWS = "val_errors"  # screening: validation only
UNITS = (800, 800)  # the paper's student
TEACHER_UNITS = models.TEACHER_UNITS
TEACHER_FILE = "dropout_paper_teacher"
# Hinton et al. 2015 (MNIST): teacher 67 test errors, 800-800 student 146, distilled without translations 74; class
# 3: 206 errors (133 on 3s), +3.5 on the bias of 3: 109 (14).
PAPER = {"teacher": 67, "plain": 146, "distilled": 74}


def run(ctx, progress):
    config = ctx.config
    progress.expect(len(config.protocol_rates) + len(config.protocol_teacher_rates) + len(PROTOCOL_ARMS),
                    work=sum(work(*cost) for cost in costs(config)))
    arms = Arms(ctx, progress)
    probe = {f"{rate:g}": arms.student({"optimizer": "dropout_sgd", "batch_size": 100, "learning_rate": rate,
                                        "epochs": config.protocol_probe_epochs}, f"probe eps0={rate:g}")
             for rate in config.protocol_rates}
    arms.rate = float(min(probe, key=lambda r: score(probe[r])))
    ctx.log(f"Protocol: the student's SGD rate eps0 = {arms.rate:g} (lowest validation NLL after "
            f"{config.protocol_probe_epochs} epochs; {', '.join(f'{r}: {score(v):.4f}' for r, v in probe.items())})")
    results = {name: arms.arm(name) for name in PROTOCOL_ARMS}
    chosen = min(results, key=lambda name: score(results[name]))
    return {"probe": probe, "rate": arms.rate, "arms": results, "chosen": chosen,
            "length": results[chosen]["length"], "teacher": arms.teacher_record, "paper": PAPER}


def score(result):
    """An arm's validation NLL (at its chosen length); a diverged run's is not finite and loses."""
    value = result["val_nll"]
    return value if math.isfinite(value) else math.inf


def costs(config):
    """(width, epochs) of every unit, for the time left (the dropout paper's teacher is not a unit: not counted; its
    probes, with dropout and jitter, cost about 3 plain epochs an epoch)."""
    student = [(UNITS[0], config.protocol_probe_epochs)] * len(config.protocol_rates)
    student += [(TEACHER_UNITS[0], 3 * config.protocol_probe_epochs)] * len(config.protocol_teacher_rates)
    for changes, _ in PROTOCOL_ARMS.values():
        student.append((UNITS[0], config.protocol_epochs if changes.get("epochs") else config.protocol_today[2]))
    return student


def work(width, epochs):
    return epochs * (784 * width + width * width + 10 * width)


class Arms:
    """The students of the arms (each a unit of `progress`) and their teachers."""

    def __init__(self, ctx, progress):
        self.ctx, self.progress, self.rate = ctx, progress, None
        self.teachers, self.teacher_record, self.teacher_probe = {}, None, {}

    def arm(self, name):
        changes, source = PROTOCOL_ARMS[name]
        changes = {k: self.resolve(v) for k, v in changes.items()}
        result = self.student(changes, name)
        return {**result, "changes": changes, "source": source}

    def resolve(self, value):
        """A config value of an arm: "probed" is the probed SGD rate; the name of a config field, its value."""
        if value == "probed":
            return self.rate
        return getattr(self.ctx.config, value) if isinstance(value, str) and hasattr(self.ctx.config, value) \
            else value

    def student(self, changes, label):
        """One 800-800 student distilled on the images themselves (no translations) with `changes` from today's
        recipe: its validation errors and NLL at its length, and its curve."""
        ctx, config = self.ctx, self.ctx.config
        teacher_name = changes.get("teacher", "committed")
        settings = {k: v for k, v in changes.items() if k not in ("teacher", "init", "inputs")}
        temperature, lambda_, epochs = config.protocol_today
        trained = dataclasses.replace(config, **{"temperature": temperature, "lambda_": lambda_, "epochs": epochs,
                                                 **settings})
        targets = self.targets(teacher_name)
        init, inputs = changes.get("init", "glorot"), changes.get("inputs", "normalized")
        artifact_key = training_key(trained, ctx.data.train, config.seed, targets.id,
                                    model=f"mlp {UNITS[0]}-{UNITS[1]}", row="protocol", init=init, inputs=inputs)
        unit = unit_name(label.replace(" ", "-"), config.seed, artifact_key)

        def train(backup):
            keras.utils.set_random_seed(config.seed)
            net = models.mlp(UNITS, f"student{UNITS[0]}", init=init, inputs=inputs)
            curve = ValidationCurve(net, ctx.data.val, config.protocol_curve_every,
                                    None if backup is None else backup / "curve.json")
            history = distil(net, ctx.data.train, ctx.data.val, targets, trained, verbose=0, callbacks=[curve],
                             backup_dir=backup, name=f"Protocol student, {label}", seed=config.seed,
                             artifact_key=artifact_key)
            return measured(curve, trained, history)

        return self.progress.run(unit, train, f"Protocol student, {label}", work=work(UNITS[0], trained.epochs))

    def targets(self, name):
        """The teacher's logits (cache.TeacherLogits) on the training and validation images."""
        ctx = self.ctx
        if name == "committed":  # the run's paper teacher, whose logits the Context computes once
            return ctx.paper_logits(ctx.get_or_train_paper_teacher())
        if name not in self.teachers:
            self.teachers[name] = cache.teacher_logits_for(self.dropout_paper_teacher(), ctx.data,
                                                           ctx.out / "teacher_logits")
            self.teacher_record["val_errors"] = count_errors(predictions(self.teachers[name][1]), ctx.data.val[1])
        return self.teachers[name]

    def dropout_paper_teacher(self):
        """The dropout paper's teacher (config.DROPOUT_PAPER_TEACHER) at the probed rate: saved in OUT_DIR/protocol/
        under its key, or trained now (hours: backed up every epoch, a rerun resumes)."""
        ctx, config = self.ctx, self.ctx.config
        recipe = {k: self.resolve(v) for k, v in DROPOUT_PAPER_TEACHER.items()}
        shape = {k: recipe.pop(k) for k in ("max_norm", "init", "inputs")}
        trained = dataclasses.replace(config, **recipe, learning_rate=self.teacher_rate(recipe, shape))
        artifact_key = teacher_key(trained, ctx.data, shape)

        def train():
            ctx.log(f"Dropout-paper teacher: 1200-1200, {trained.epochs} epochs of the dropout paper's SGD at eps0 = "
                    f"{trained.learning_rate:g} (hours; a kill resumes from the last epoch)")
            backup = ctx.out / resume.BACKUPS / NAME / f"teacher-{keys.digest(artifact_key)}"
            return self.train_teacher(trained, shape, artifact_key, backup)

        teacher, record = artifacts.get_or_train(ctx.out / NAME, TEACHER_FILE, artifact_key, "Dropout-paper teacher",
                                                 train, trained, ctx.log)
        self.teacher_record = {**record, "probe": self.teacher_probe, "rate": trained.learning_rate}  # + val_errors
        return teacher

    def teacher_rate(self, recipe, shape):
        """The teacher's eps0: the lowest validation NLL after config.protocol_probe_epochs among
        config.protocol_teacher_rates (config says why it is probed); each probe is a unit."""
        ctx, config = self.ctx, self.ctx.config
        self.teacher_probe = {}
        for rate in config.protocol_teacher_rates:
            trained = dataclasses.replace(config, **{**recipe, "learning_rate": rate,
                                                     "epochs": config.protocol_probe_epochs})
            artifact_key = teacher_key(trained, ctx.data, shape)
            label = f"teacher probe eps0={rate:g}"
            self.teacher_probe[f"{rate:g}"] = self.progress.run(
                unit_name(label.replace(" ", "-"), config.seed, artifact_key),
                lambda backup, t=trained, k=artifact_key: self.train_teacher(t, shape, k, backup)[1],
                f"Dropout-paper teacher, {label}", work=3 * work(TEACHER_UNITS[0], trained.epochs))
        rate = float(min(self.teacher_probe, key=lambda r: score(self.teacher_probe[r])))
        ctx.log(f"Protocol: the dropout-paper teacher's SGD rate eps0 = {rate:g} (lowest validation NLL after "
                f"{config.protocol_probe_epochs} epochs; "
                + ", ".join(f"{r}: {score(v):.4f}" for r, v in self.teacher_probe.items()) + ")")
        return rate

    def train_teacher(self, trained, shape, artifact_key, backup):
        """(The dropout paper's teacher trained with `trained`'s settings, what measured() says of it)."""
        ctx = self.ctx
        keras.utils.set_random_seed(ctx.config.seed)
        teacher = models.paper_teacher(TEACHER_UNITS, name=TEACHER_FILE, **shape)
        curve = ValidationCurve(teacher, ctx.data.val, ctx.config.protocol_curve_every,
                                None if backup is None else backup / "curve.json")
        history = train_on_labels(teacher, ctx.data.train, ctx.data.val, trained, callbacks=[curve],
                                  verbose=0 if trained.epochs < 100 else "auto", backup_dir=backup,
                                  name="dropout-paper teacher", artifact_key=artifact_key)
        return teacher, measured(curve, trained, history)


def teacher_key(trained, data, shape):
    return training_key(trained, data.train, trained.seed, model="dropout paper teacher 1200-1200", **shape)


def measured(curve, config, history):
    """What a screened net is judged by: its validation errors and NLL at its length (a dropout-SGD net: the curve's
    best point, whose run is the first epochs of this one; else its last), its curve, seconds and machine."""
    points = curve.as_list()
    length = best_length(points) if config.optimizer == "dropout_sgd" else points[-1][0]
    _, errors, value = next(p for p in points if p[0] == length)
    return {"length": length, "val_errors": errors, "val_nll": value if np.isfinite(value) else math.inf,
            "last": points[-1], "curve": points, "seconds": round(history.seconds, 1), "machine": machine()}


def render(section, name=NAME):
    r = section["result"]
    lines = [f"## The paper's protocol, one difference at a time ({name}; 1 seed, validation only)", "",
             f"The student's SGD rate, probed: eps0 = {r['rate']:g} (validation NLL: "
             + ", ".join(f"{k}: {v['val_nll']:.4f}" for k, v in r["probe"].items()) + ").", "",
             "| arm | what changes | source | epochs | validation errors | validation NLL | seconds |",
             "|---|---|---|---:|---:|---:|---:|"]
    for arm, a in r["arms"].items():
        changes = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in a["changes"].items())
        lines.append(f"| {arm} | {changes or 'nothing'} | {a['source']} | {a['length']} | {a['val_errors']} | "
                     f"{a['val_nll']:.4f} | {a['seconds']:.0f} |")
    t = r["teacher"]
    if t:  # the dropout paper's teacher, when an arm used it
        lines += ["", f"The dropout paper's teacher: eps0 = {t['rate']:g} (probed: "
                  + ", ".join(f"{k}: NLL {v['val_nll']:.4f}" for k, v in t["probe"].items())
                  + f"), {t['length']} epochs, {t['val_errors']} validation errors, {t['seconds']:.0f} s."]
    lines += ["", f"Chosen (lowest validation NLL): **{r['chosen']}**, {r['length']} epochs.", "",
              provenance(section, epochs="epochs per arm", seeds=1), ""]
    return lines
