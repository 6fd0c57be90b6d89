"""Seconds per epoch of the paper's regularized teacher (1200-1200, jitter, dropout, max-norm) on the
training split, with its jitter done two ways, in one process:

  RandomTranslation (Keras's layer): XLA cannot compile it, so the teacher trains with XLA off
  augment.RandomShift (whole-pixel shifts in gather ops): XLA off, and inside the XLA-compiled step

and, to tell the jitter's cost from the dropout's, the RandomShift net without its dropout layers.

    python benchmarks/jitter_speed.py [--epochs 5]
"""

import argparse
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
from clock import EpochClock  # benchmarks/clock.py, beside this script

from distiller import augment, models
from distiller.config import Config
from distiller.experiments import prepare_data
from distiller.training import train_on_labels


def with_shift(teacher):
    """The paper teacher with its Reshape / RandomTranslation / Flatten replaced by one RandomShift."""
    kept = [layer for layer in teacher.layers if not isinstance(
        layer, (keras.layers.Reshape, keras.layers.RandomTranslation, keras.layers.Flatten))]
    return keras.Sequential([keras.Input((models.INPUT_DIM,)), augment.RandomShift(), *kept], name="paper_teacher")


def without_dropout(teacher):
    return keras.Sequential([layer for layer in teacher.layers if not isinstance(layer, keras.layers.Dropout)],
                            name="paper_teacher_without_dropout")


def epoch_seconds(model, data, config):
    clock = EpochClock()
    train_on_labels(model, data.train, data.val, config, verbose=0, callbacks=[clock])
    return clock.fastest


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5, help="epochs per way; the fastest counts (default 5)")
    args = p.parse_args()
    config = dataclasses.replace(Config(), epochs=args.epochs)
    data = prepare_data(config)
    rows = []
    shifted = lambda: with_shift(models.paper_teacher())
    ways = (("RandomTranslation, XLA off (as the paper stage trains it)", models.paper_teacher, False),
            ("augment.RandomShift, XLA off", shifted, False),
            ("augment.RandomShift, XLA on", shifted, True),
            ("augment.RandomShift without dropout, XLA off", lambda: without_dropout(shifted()), False),
            ("augment.RandomShift without dropout, XLA on", lambda: without_dropout(shifted()), True))
    for name, build, jit in ways:
        keras.utils.set_random_seed(0)
        rows.append((name, epoch_seconds(build(), data, dataclasses.replace(config, jit_compile=jit))))
    print(f"\n{len(data.train[0])} examples, batch {config.batch_size}, {config.steps_per_execution} steps per call, "
          f"{args.epochs} epochs per way (fastest counts), {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}")
    print("| jitter | seconds per epoch | relative to today's (RandomTranslation) |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
