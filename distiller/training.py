"""The two ways a net learns here: from labels (Teacher, Student) or from a teacher (Student2.0).

Every experiment calls these two functions with other data or settings; there is no other loop.
"""

import math
import time

import keras
import numpy as np

from distiller import keys, optimizers
from distiller.batches import EpochOrder
from distiller.distiller import Distiller
from distiller.errors import deferred
from distiller.progress import ProgressBar
from distiller.resume import Backup

# The settings that decide what a training ends with; the others (out_dir, seeds, ...) do not.
TRAINING_SETTINGS = ("seed", "epochs", "batch_size", "learning_rate", "jit_compile", "steps_per_execution")


# The settings of the dropout paper's SGD (optimizers.py): in a key only when config.optimizer names it, so that
# every key made before it existed (Adam's) stays as it was.
SGD_SETTINGS = ("optimizer", "lr_decay", "momentum")


def adam_with_cosine_decay(config, train_size):
    """Adam whose rate falls from config.learning_rate to 0 over all steps (constant Adam: ~97.8%)."""
    return optimizers.cosine_adam(config.learning_rate, config.epochs, math.ceil(train_size / config.batch_size))


def training_key(config, train, seed=None, taught_by=None, **extra):
    """The key (keys.key) of a training's result: its settings, the seed of its weights and batch order, its
    split and data, and `taught_by`, the id of the teacher logits it learned from (cache.TeacherLogits.id; for
    logits from elsewhere, keys.array_digest of them); None: trained on labels. `extra` names what else tells two
    trainings apart (the architecture, a row of a table), so that a saved model, a finished unit and a backup
    share one key."""
    settings = {name: getattr(config, name) for name in TRAINING_SETTINGS}
    if config.optimizer != "adam":
        settings.update({name: getattr(config, name) for name in SGD_SETTINGS})
    settings.update(seed=config.seed if seed is None else seed, **extra)
    if taught_by is None:
        return keys.key("labels", settings, config, [*train])
    settings.update(temperature=config.temperature, lambda_=config.lambda_, hard_labels=config.hard_labels)
    return keys.key("distilled", settings, config, [*train], [taught_by])


def fit(model, x, y, validation_data, config, verbose, callbacks, backup_dir, name, seed, artifact_key):
    """model.fit on batches in the order of (seed, epoch) (batches.EpochOrder), backed up in `backup_dir` (if
    given) every epoch under `artifact_key`, and resumed from there when run again.

    history.seconds: the wall time of the whole training, including the part before a kill."""
    backup = Backup(backup_dir, name, keys.digest(artifact_key)) if backup_dir is not None else None
    initial_epoch = backup.initial_epoch() if backup else 0  # the epochs the backup holds: fit starts after them
    order = EpochOrder(x, y, config.batch_size, seed)
    start = time.perf_counter()
    with deferred():  # Ctrl-C stops the fit at the progress bar's next step, not inside TensorFlow
        history = model.fit(order.dataset, epochs=config.epochs, initial_epoch=initial_epoch, shuffle=False,
                            validation_data=validation_data, validation_batch_size=config.batch_size, verbose=verbose,
                            callbacks=[order, *([backup] if backup else []), ProgressBar(), *callbacks])
    history.seconds = time.perf_counter() - start + (backup.earlier_seconds if backup else 0.0)
    return history


def train_on_labels(model, train, val, config, verbose="auto", callbacks=(), backup_dir=None, name="model", seed=None,
                    artifact_key=None):
    """Plain cross-entropy training; `train` and `val` are (x, y) pairs. `seed` draws the batch order (default
    config.seed; the caller seeds the initial weights).

    With `backup_dir`, the fit is backed up every epoch there and resumes from it when run again, if its key
    (default: training_key(config, train, seed)) is `artifact_key`."""
    seed = config.seed if seed is None else seed
    model.compile(
        optimizer=optimizers.for_config(config, len(train[0])),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return fit(model, *train, val, config, verbose, callbacks, backup_dir, name, seed,
               artifact_key or training_key(config, train, seed))


def distil(student, train, val, teacher_logits, config, verbose="auto", callbacks=(), backup_dir=None,
           name="model", seed=None, artifact_key=None):
    """Train `student` on Hinton et al.'s objective from precomputed teacher logits.

    `teacher_logits` is (logits for train x, logits for val x): the teacher ran once, not every step. `val` None:
    no validation (a refit on every training image).
    Given the logits of the 25 shifted views of each image instead (N, 25, classes: cache.view_logits), the
    student sees a random view at every step, taught by its logits, and is validated on the unshifted images.
    `seed` draws the batch order and the views (default config.seed).
    """
    seed = config.seed if seed is None else seed
    distiller = Distiller(student=student, seed=seed)
    distiller.compile(
        optimizer=optimizers.for_config(config, len(train[0])),
        metrics=["accuracy"],
        temperature=config.temperature,
        lambda_=config.lambda_,
        hard_labels=config.hard_labels,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    validation = None if val is None else (distiller_inputs(val[0], teacher_logits[1]), val[1])
    return fit(distiller, distiller_inputs(train[0], teacher_logits[0]), train[1], validation, config, verbose, callbacks,
               backup_dir, name, seed, artifact_key or training_key(config, train, seed, keys.array_digest(teacher_logits[0])))


def distiller_inputs(x, targets):
    """The Distiller's inputs: logits per image (N, classes), or per image and shifted view (N, 25, classes)."""
    return {"pixels": x, "view_logits" if np.ndim(targets) == 3 else "teacher_logits": targets}
