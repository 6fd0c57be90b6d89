"""The paper's MNIST nets: ReLU MLPs whose last layer, named `logits`, has no softmax."""

import zipfile
from pathlib import Path

import keras

from distiller import augment
from distiller.dropout import HashedDropout
from distiller.errors import DistillerError

TEACHER_UNITS = (1200, 1200)
STUDENT_UNITS = (600, 600)
NUM_CLASSES = 10
INPUT_DIM = 784


def mlp(hidden_units, name):
    """784 -> hidden (ReLU) ... -> 10 logits. No dropout, no weight decay.

    Initial weights follow keras.utils.set_random_seed, which the callers set per run.
    """
    layers = [keras.Input((INPUT_DIM,), name="pixels")]
    layers += [keras.layers.Dense(units, "relu", name=f"hidden{i + 1}") for i, units in enumerate(hidden_units)]
    layers.append(keras.layers.Dense(NUM_CLASSES, name="logits"))
    return keras.Sequential(layers, name=name)


def teacher():
    return mlp(TEACHER_UNITS, "teacher")


def student():
    return mlp(STUDENT_UNITS, "student")


def load(path, name="model", remedy="run `python train.py` again to write it anew"):
    """A saved Keras classifier of 784 pixels -> 10 logits, or one clear DistillerError.

    `remedy` ends the message for a file that exists but is damaged (e.g. "pass --retrain ...")."""
    path = Path(path)
    if not path.is_file():
        raise DistillerError(f"no saved {name} at {path}: run `python train.py` (or `make run`) first")
    if not zipfile.is_zipfile(path):  # what a truncated or overwritten .keras file looks like
        raise DistillerError(f"the saved {name} at {path} is corrupt (not a complete .keras archive); {remedy}")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 -- keras raises many types for a bad file
        raise DistillerError(f"the saved {name} at {path} is corrupt ({type(e).__name__}: {e}); {remedy}") from None
    shape_in, shape_out = tuple(model.input_shape), tuple(model.output_shape)
    if shape_in != (None, INPUT_DIM) or shape_out != (None, NUM_CLASSES):
        raise DistillerError(
            f"the {name} at {path} maps {shape_in} -> {shape_out}; expected (None, 784) -> (None, 10)"
        )
    return model


def paper_teacher(hidden_units=TEACHER_UNITS, max_norm=4.0, name="paper_teacher"):
    """Hinton et al.'s regularized MNIST teacher: inputs jittered by up to 2 pixels, dropout of 20% on
    inputs and 50% on hidden units, and a max-norm constraint on every unit's incoming weights.

    Jitter and dropout act only in training; at inference it is a plain 784-1200-1200-10 MLP. Both are
    written so that XLA compiles the training step (augment.RandomShift, dropout.HashedDropout).
    """
    constraint = keras.constraints.MaxNorm(max_norm)
    layers = [keras.Input((INPUT_DIM,), name="pixels"), augment.RandomShift(), HashedDropout(0.2)]
    for i, units in enumerate(hidden_units):
        layers += [keras.layers.Dense(units, "relu", kernel_constraint=constraint, name=f"hidden{i + 1}"),
                   HashedDropout(0.5)]
    layers.append(keras.layers.Dense(NUM_CLASSES, kernel_constraint=constraint, name="logits"))
    return keras.Sequential(layers, name=name)
