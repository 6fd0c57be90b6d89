"""The two ways a net learns here: from labels (Teacher, Student) or from a teacher (Student2.0).

Every experiment calls these two functions with other data or settings; there is no other loop.
"""

import math

import keras
import numpy as np

from distiller.distiller import Distiller


def adam_with_cosine_decay(config, train_size):
    """Adam whose rate falls from config.learning_rate to 0 over all steps (constant Adam: ~97.8%)."""
    steps = config.epochs * math.ceil(train_size / config.batch_size)
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, steps))


def train_on_labels(model, train, val, config, verbose="auto", callbacks=()):
    """Plain cross-entropy training; `train` and `val` are (x, y) pairs."""
    model.compile(
        optimizer=adam_with_cosine_decay(config, len(train[0])),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return model.fit(
        *train, batch_size=config.batch_size, epochs=config.epochs, validation_data=val,
        verbose=verbose, callbacks=list(callbacks),
    )


def distil(student, train, val, teacher_logits, config, verbose="auto", callbacks=()):
    """Train `student` on Hinton et al.'s objective from precomputed teacher logits.

    `teacher_logits` is (logits for train x, logits for val x): the teacher ran once, not every step.
    """
    distiller = Distiller(student)
    distiller.compile(
        optimizer=adam_with_cosine_decay(config, len(train[0])),
        metrics=["accuracy"],
        temperature=config.temperature,
        lambda_=config.lambda_,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return distiller.fit(
        {"pixels": train[0], "teacher_logits": teacher_logits[0]}, train[1],
        batch_size=config.batch_size, epochs=config.epochs,
        validation_data=({"pixels": val[0], "teacher_logits": teacher_logits[1]}, val[1]),
        verbose=verbose, callbacks=list(callbacks),
    )


def logits(model, x, batch_size=8192):
    """A model's logits for x, in large eager batches (no per-model tf.function to trace)."""
    return np.concatenate([model(x[i : i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)])
