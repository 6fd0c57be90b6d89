"""The two ways a net learns here: from labels (Teacher, Student) or from a teacher (Student2.0).

Every experiment calls these two functions with other data or settings; there is no other loop.
"""

import hashlib
import json
import math
import time

import keras
import numpy as np

from distiller.distiller import Distiller
from distiller.errors import deferred
from distiller.progress import ProgressBar
from distiller.resume import Backup

# The settings that decide what a training ends with; the others (out_dir, seeds, ...) do not.
TRAINING_SETTINGS = ("seed", "epochs", "batch_size", "learning_rate", "jit_compile", "steps_per_execution")


def adam_with_cosine_decay(config, train_size):
    """Adam whose rate falls from config.learning_rate to 0 over all steps (constant Adam: ~97.8%)."""
    steps = config.epochs * math.ceil(train_size / config.batch_size)
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, steps))


def fingerprint(config, train, soft_targets=None):
    """A digest of what a training's result depends on: its settings, its data and its soft targets
    (a sample of the pixels suffices to tell data sets apart). Keys backups and finished units."""
    settings = {name: getattr(config, name) for name in TRAINING_SETTINGS}
    if soft_targets is not None:
        settings.update(temperature=config.temperature, lambda_=config.lambda_)
        if not config.hard_labels:
            settings.update(hard_labels=False)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for array in (train[0][::101], train[1], *(() if soft_targets is None else (soft_targets,))):
        digest.update(str(array.shape).encode() + np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def fit(model, x, y, validation_data, config, verbose, callbacks, backup_dir, name, digest):
    """model.fit, backed up in `backup_dir` (if given) every epoch and resumed from there when run again.

    history.seconds: the wall time of the whole training, including the part before a kill."""
    backup = Backup(backup_dir, name, digest) if backup_dir is not None else None
    start = time.perf_counter()
    with deferred():  # Ctrl-C stops the fit at the progress bar's next step, not inside TensorFlow
        history = model.fit(x, y, batch_size=config.batch_size, epochs=config.epochs, validation_data=validation_data,
                            verbose=verbose, callbacks=[*([backup] if backup else []), ProgressBar(), *callbacks])
    history.seconds = time.perf_counter() - start + (backup.earlier_seconds if backup else 0.0)
    return history


def train_on_labels(model, train, val, config, verbose="auto", callbacks=(), backup_dir=None, name="model"):
    """Plain cross-entropy training; `train` and `val` are (x, y) pairs.

    With `backup_dir`, the fit is backed up every epoch there and resumes from it when run again."""
    model.compile(
        optimizer=adam_with_cosine_decay(config, len(train[0])),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return fit(model, *train, val, config, verbose, callbacks, backup_dir, name, fingerprint(config, train))


def distil(student, train, val, teacher_logits, config, verbose="auto", callbacks=(), backup_dir=None,
           name="model", seed=0):
    """Train `student` on Hinton et al.'s objective from precomputed teacher logits.

    `teacher_logits` is (logits for train x, logits for val x): the teacher ran once, not every step.
    Given the logits of the 25 shifted views of each image instead (N, 25, classes: cache.view_logits), the
    student sees a random view at every step, taught by its logits (`seed` draws the views), and is
    validated on the unshifted images.
    """
    distiller = Distiller(student, seed=seed)
    distiller.compile(
        optimizer=adam_with_cosine_decay(config, len(train[0])),
        metrics=["accuracy"],
        temperature=config.temperature,
        lambda_=config.lambda_,
        hard_labels=config.hard_labels,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return fit(distiller, soft_inputs(train[0], teacher_logits[0]), train[1],
               (soft_inputs(val[0], teacher_logits[1]), val[1]), config, verbose, callbacks,
               backup_dir, name, fingerprint(config, train, teacher_logits[0]))


def soft_inputs(x, soft):
    """The Distiller's inputs: logits per image (N, classes), or per image and shifted view (N, 25, classes)."""
    return {"pixels": x, "view_logits" if np.ndim(soft) == 3 else "teacher_logits": soft}


def logits(model, x, batch_size=8192):
    """A model's logits for x, in large eager batches (no per-model tf.function to trace)."""
    return np.concatenate([model(x[i : i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)])
