"""The nets of the protocol stage (stages/protocol.py): an 800-800 student trained by an arm's recipe (its changes
from "today", config.PROTOCOL_ARMS) and its teachers: the committed paper teacher's recipe and the dropout paper's
(config.DROPOUT_PAPER_TEACHER). The screen trains them on the 55,000 training images and reads validation only; the
refit (refit.py) trains the chosen recipe on all 60,000, without validation, and reads the test set.

The student's SGD rate is not in the sources (the dropout paper gives its regularized nets' only): it is probed
first (config.protocol_rates, config.protocol_probe_epochs), the lowest validation NLL winning; so is the dropout
paper teacher's (config.protocol_teacher_rates: the source's rate stayed at chance here).
"""

import dataclasses
import math

import keras
import numpy as np

from distiller import artifacts, cache, keys, models, paper_teacher, resume, student_rows
from distiller.config import DROPOUT_PAPER_TEACHER
from distiller.curve import ValidationCurve, best_length
from distiller.evaluate import count_errors, predictions
from distiller.per_seed import unit_name, work
from distiller.report import machine
from distiller.training import distil, train_on_labels, training_key

NAME = "protocol"  # the stage, its folder in OUT_DIR, its units
UNITS = (800, 800)  # the paper's student
TEACHER_UNITS = models.TEACHER_UNITS
TEACHER_FILE = "dropout_paper_teacher"
NOT_TRAINING = ("teacher", "init", "inputs")  # an arm's changes that are not Config fields


def student_model():
    """The student's name in keys ("mlp 800-800")."""
    return f"mlp {UNITS[0]}-{UNITS[1]}"


def score(result):
    """A net's validation NLL (at its chosen length); a diverged run's is not finite and loses."""
    value = result["val_nll"]
    return value if math.isfinite(value) else math.inf


class Nets:
    """The students (each a unit of `progress`) and teachers of the protocol stage."""

    def __init__(self, ctx, progress):
        self.ctx, self.progress, self.rate = ctx, progress, None
        self.teachers, self.teacher_record, self.teacher_probe, self.teacher_rate = {}, None, {}, None
        self.dropout_paper_teacher = None  # the dropout paper's teacher, loaded (or trained) once a run

    def resolve(self, value):
        """A config value of an arm: "probed" is the probed SGD rate; the name of a config field, its value."""
        if value == "probed":
            return self.rate
        return getattr(self.ctx.config, value) if isinstance(value, str) and hasattr(self.ctx.config, value) \
            else value

    def recipe(self, changes):
        """(the Config a student with `changes` from today's recipe trains with, its init, its inputs)."""
        config = self.ctx.config
        changes = {k: self.resolve(v) for k, v in changes.items()}
        temperature, lambda_, epochs = config.protocol_today
        trained = dataclasses.replace(config, **{"temperature": temperature, "lambda_": lambda_, "epochs": epochs,
                                                 **{k: v for k, v in changes.items() if k not in NOT_TRAINING}})
        return trained, changes.get("init", "glorot"), changes.get("inputs", "normalized")

    def screened(self, changes, label):
        """One 800-800 student distilled on the images themselves (no translations) with `changes` from today's
        recipe, seed config.seed: its validation errors and NLL at its length, and its curve."""
        ctx, config = self.ctx, self.ctx.config
        trained, init, inputs = self.recipe(changes)
        targets = self.get_or_train_targets(changes.get("teacher", "committed"))
        artifact_key = training_key(trained, ctx.data.train, config.seed, targets.id,
                                    model=student_model(), row="protocol", init=init, inputs=inputs)

        def train(backup):
            curves = []
            history = self.fit_student(trained, init, inputs, ctx.data.train, ctx.data.val, targets, config.seed,
                                       backup, label, artifact_key, curves)
            return measured(curves[0], trained, history)

        return self.progress.run(unit_name(label.replace(" ", "-"), config.seed, artifact_key), train,
                                 f"Protocol student, {label}", work=work(UNITS[0], trained.epochs))

    def fit_student(self, trained, init, inputs, train, val, targets, seed, backup, label, artifact_key, curves=None):
        """A new 800-800 student (weights seeded by `seed`) trained on `train`: distilled from `targets`, or on
        labels (None). With `curves`, its ValidationCurve is appended there (kept in the backup). -> its history;
        history.net is the student."""
        keras.utils.set_random_seed(seed)
        net = models.mlp(UNITS, f"student{UNITS[0]}", init=init, inputs=inputs)
        callbacks = []
        if curves is not None:
            curves.append(ValidationCurve(net, val, self.ctx.config.protocol_curve_every,
                                          None if backup is None else backup / "curve.json"))
            callbacks = curves[-1:]
        options = {"verbose": 0, "callbacks": callbacks, "backup_dir": backup, "name": f"Protocol student, {label}",
                   "seed": seed, "artifact_key": artifact_key}
        history = distil(net, train, val, targets, trained, **options) if targets is not None else \
            train_on_labels(net, train, val, trained, **options)
        history.net = net
        return history

    def get_or_train_targets(self, name):
        """The screen's teacher logits (cache.TeacherLogits) on the training and validation images."""
        ctx = self.ctx
        if name == "committed":  # the run's paper teacher, whose logits the Context computes once
            return ctx.paper_logits(ctx.get_or_train_paper_teacher())
        if name not in self.teachers:
            self.teachers[name] = cache.teacher_logits_for(self.get_or_train_dropout_paper_teacher(), ctx.data,
                                                           ctx.out / "teacher_logits")
            self.teacher_record["val_errors"] = count_errors(predictions(self.teachers[name][1]), ctx.data.val[1])
        return self.teachers[name]

    def make_run_targets(self, name):
        """What the teacher `name` teaches make run's Student2.0 (make_run_teacher.py), as student_rows.row says: its
        logits on the 25 shifted views of every training image (config.views "consistent"), else on the images."""
        ctx = self.ctx
        if name == "committed":
            return student_rows.row(ctx, "student_kd").targets
        if ctx.config.views == "consistent":
            return cache.teacher_view_logits_for(self.get_or_train_dropout_paper_teacher(), ctx.data,
                                                 ctx.out / "teacher_logits")
        return self.get_or_train_targets(name)

    def teacher_recipe(self, name):
        """(the Config a teacher of recipe `name` trains with, the keyword arguments of models.paper_teacher, the
        key's model name): "committed", the paper teacher's; "dropout_paper", the dropout paper's at its probed
        rate (the first call probes it: short units of `progress`)."""
        config = self.ctx.config
        if name == "committed":
            return dataclasses.replace(config, epochs=config.paper_teacher_epochs), {}, paper_teacher.MODEL
        recipe = {k: self.resolve(v) for k, v in DROPOUT_PAPER_TEACHER.items()}
        shape = {k: recipe.pop(k) for k in ("max_norm", "init", "inputs")}
        if self.teacher_rate is None:
            self.teacher_rate = self.probed_teacher_rate(recipe, shape)
        trained = dataclasses.replace(config, **recipe, learning_rate=self.teacher_rate)
        return trained, shape, "dropout paper teacher 1200-1200"

    def get_or_train_dropout_paper_teacher(self):
        """The dropout paper's teacher (config.DROPOUT_PAPER_TEACHER) at the probed rate: saved in OUT_DIR/protocol/
        under its key, or trained now (hours: backed up every epoch, a rerun resumes). Once a run: a second call
        returns the same model and leaves its record as it is."""
        if self.dropout_paper_teacher is not None:
            return self.dropout_paper_teacher
        ctx = self.ctx
        trained, shape, model = self.teacher_recipe("dropout_paper")
        artifact_key = training_key(trained, ctx.data.train, trained.seed, model=model, **shape)

        def train():
            ctx.log(f"Dropout-paper teacher: 1200-1200, {trained.epochs} epochs of the dropout paper's SGD at eps0 = "
                    f"{trained.learning_rate:g} (hours; a kill resumes from the last epoch)")
            backup = ctx.out / resume.BACKUPS / NAME / f"teacher-{keys.digest(artifact_key)}"
            teacher, history, curve = self.fit_teacher(trained, shape, ctx.data.train, ctx.data.val, trained.seed,
                                                       artifact_key, backup)
            return teacher, measured(curve, trained, history)

        teacher, record = artifacts.get_or_train(ctx.out / NAME, TEACHER_FILE, artifact_key, "Dropout-paper teacher",
                                                 train, trained, ctx.log)
        self.teacher_record = {**record, "probe": self.teacher_probe, "rate": trained.learning_rate}  # + val_errors
        self.dropout_paper_teacher = teacher
        return teacher

    def probed_teacher_rate(self, recipe, shape):
        """The dropout-paper teacher's eps0: the lowest validation NLL after config.protocol_probe_epochs among
        config.protocol_teacher_rates (config says why it is probed); each probe is a unit."""
        ctx, config = self.ctx, self.ctx.config
        self.teacher_probe = {}
        for rate in config.protocol_teacher_rates:
            trained = dataclasses.replace(config, **{**recipe, "learning_rate": rate,
                                                     "epochs": config.protocol_probe_epochs})
            artifact_key = training_key(trained, ctx.data.train, trained.seed, model="dropout paper teacher 1200-1200",
                                        **shape)
            label = f"teacher probe eps0={rate:g}"

            def train(backup, t=trained, k=artifact_key):
                _, history, curve = self.fit_teacher(t, shape, ctx.data.train, ctx.data.val, t.seed, k, backup)
                return measured(curve, t, history)

            self.teacher_probe[f"{rate:g}"] = self.progress.run(
                unit_name(label.replace(" ", "-"), config.seed, artifact_key), train,
                f"Dropout-paper teacher, {label}", work=3 * work(TEACHER_UNITS[0], trained.epochs))
        rate = float(min(self.teacher_probe, key=lambda r: score(self.teacher_probe[r])))
        ctx.log(f"Protocol: the dropout-paper teacher's SGD rate eps0 = {rate:g} (lowest validation NLL after "
                f"{config.protocol_probe_epochs} epochs; "
                + ", ".join(f"{r}: {score(v):.4f}" for r, v in self.teacher_probe.items()) + ")")
        return rate

    def fit_teacher(self, trained, shape, train, val, seed, artifact_key, backup, name="dropout-paper teacher",
                    model_name=TEACHER_FILE):
        """(a teacher of models.paper_teacher(**shape), weights seeded by `seed`, trained on `train` with `trained`'s
        settings; its history; its ValidationCurve, or None without `val`)."""
        keras.utils.set_random_seed(seed)
        teacher = models.paper_teacher(TEACHER_UNITS, name=model_name, **shape)
        curve = None if val is None else ValidationCurve(teacher, val, self.ctx.config.protocol_curve_every,
                                                         None if backup is None else backup / "curve.json")
        history = train_on_labels(teacher, train, val, trained, callbacks=[] if curve is None else [curve],
                                  verbose=0 if trained.epochs < 100 else "auto", backup_dir=backup,
                                  name=name, seed=seed, artifact_key=artifact_key)
        return teacher, history, curve


def measured(curve, config, history):
    """What a screened net is judged by: its validation errors and NLL at its length (a dropout-SGD net: the curve's
    best point, whose run is the first epochs of this one; else its last), its curve, seconds and machine."""
    points = curve.as_list()
    length = best_length(points) if config.optimizer == "dropout_sgd" else points[-1][0]
    _, errors, value = next(p for p in points if p[0] == length)
    return {"length": length, "val_errors": errors, "val_nll": value if np.isfinite(value) else math.inf,
            "last": points[-1], "curve": points, "seconds": round(history.seconds, 1), "machine": machine()}
