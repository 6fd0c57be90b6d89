"""The paper's MNIST nets: ReLU MLPs whose last layer, named `logits`, has no softmax."""

import zipfile
from pathlib import Path

import keras
import numpy as np

from distiller import augment
from distiller.dropout import HashedDropout
from distiller.errors import DistillerError

TEACHER_UNITS = (1200, 1200)
STUDENT_UNITS = (600, 600)
NUM_CLASSES = 10
INPUT_DIM = 784


# Initial weights: Keras's default, or the dropout paper's N(0, 0.01) (Hinton et al. 2012, appendix A; 0.01 is the
# standard deviation in mdenil/dropout's reproduction). Made per layer, after the caller's set_random_seed: an
# unseeded Keras initializer draws its seed when it is made.
INITIALIZERS = {"glorot": lambda: "glorot_uniform", "normal": lambda: keras.initializers.RandomNormal(stddev=0.01)}


def mlp(hidden_units, name, init="glorot", inputs="normalized"):
    """784 -> hidden (ReLU) ... -> 10 logits. No dropout, no weight decay. `init`: a key of INITIALIZERS; `inputs`:
    "normalized" (the data as it is, [-1, 1]) or "unit" (rescaled to [0, 1] first: see unit_inputs).

    Initial weights follow keras.utils.set_random_seed, which the callers set per run.
    """
    init = INITIALIZERS[init]
    layers = [keras.Input((INPUT_DIM,), name="pixels"), *unit_inputs(inputs)]
    layers += [keras.layers.Dense(units, "relu", kernel_initializer=init(), name=f"hidden{i + 1}")
               for i, units in enumerate(hidden_units)]
    layers.append(keras.layers.Dense(NUM_CLASSES, kernel_initializer=init(), name="logits"))
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


def unit_inputs(inputs):
    """[] for the data as it is; for "unit", a layer that maps it back to x / 255 in [0, 1], the dropout paper's
    input (its reproductions read pixels in [0, 1]). Inside the net, so that the data, the jitter (which fills with
    the normalized background, -1) and every cache stay as they are; an input pixel dropped is then black, not gray."""
    if inputs not in ("normalized", "unit"):
        raise ValueError(f"inputs must be 'normalized' or 'unit', got {inputs!r}")
    return [keras.layers.Rescaling(0.5, offset=0.5, name="unit_inputs")] if inputs == "unit" else []


def paper_teacher(hidden_units=TEACHER_UNITS, max_norm=4.0, name="paper_teacher", init="glorot",
                  inputs="normalized"):
    """Hinton et al.'s regularized MNIST teacher: inputs jittered by up to 2 pixels, dropout of 20% on
    inputs and 50% on hidden units, and a max-norm constraint on every unit's incoming weights.

    Jitter and dropout act only in training; at inference it is a plain 784-1200-1200-10 MLP. Both are
    written so that XLA compiles the training step (augment.RandomShift, dropout.HashedDropout).
    """
    constraint, init = keras.constraints.MaxNorm(max_norm), INITIALIZERS[init]
    layers = [keras.Input((INPUT_DIM,), name="pixels"), augment.RandomShift(), *unit_inputs(inputs), HashedDropout(0.2)]
    for i, units in enumerate(hidden_units):
        layers += [keras.layers.Dense(units, "relu", kernel_initializer=init(), kernel_constraint=constraint,
                                      name=f"hidden{i + 1}"), HashedDropout(0.5)]
    layers.append(keras.layers.Dense(NUM_CLASSES, kernel_initializer=init(), kernel_constraint=constraint,
                                     name="logits"))
    return keras.Sequential(layers, name=name)


def logits(model, x, batch_size=8192):
    """A model's logits for x, in large eager batches (no per-model tf.function to trace)."""
    return np.concatenate([model(x[i : i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)])
