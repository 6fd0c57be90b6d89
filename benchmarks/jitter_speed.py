"""Seconds per epoch of the paper's regularized teacher (1200-1200, jitter, dropout, max-norm) on the
training split, its jitter and dropout done several ways, in one process:

  before:  keras.layers.RandomTranslation + keras.layers.Dropout; XLA cannot compile the translation,
           so the teacher trained with XLA off (the paper stage until 2026-11-28)
  now:     augment.RandomShift + dropout.HashedDropout, XLA on (models.paper_teacher)

and, to tell the jitter's cost from the dropout's, RandomShift with Keras's Dropout (XLA on and off).

The ways take turns, round after round, and each way's fastest epoch over all rounds counts: this
machine's epochs of one setting range over a factor of 2 or more, and a slow spell then falls on every
way, not on one (about 8 minutes per round of 5 epochs here).

    python benchmarks/jitter_speed.py [--epochs 5] [--rounds 3]
"""

import argparse
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from distiller import augment, models
from distiller.config import Config, checked
from distiller.data import prepare_data
from distiller.dropout import HashedDropout
from distiller.stages.speed import EpochClock
from distiller.training import train_on_labels


def with_keras_dropout(teacher):
    """models.paper_teacher() with each HashedDropout replaced by keras.layers.Dropout of the same rate."""
    swap = lambda layer: keras.layers.Dropout(layer.rate) if isinstance(layer, HashedDropout) else layer
    return keras.Sequential([keras.Input((models.INPUT_DIM,)), *map(swap, teacher.layers)], name="paper_teacher")


def with_translation(teacher):
    """... and its RandomShift replaced by the Reshape / RandomTranslation / Flatten it had before."""
    translation = [keras.layers.Reshape((28, 28, 1)),
                   keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", fill_value=-1.0,
                                                  interpolation="nearest"),
                   keras.layers.Flatten()]
    layers = [part for layer in teacher.layers
              for part in (translation if isinstance(layer, augment.RandomShift) else [layer])]
    return keras.Sequential([keras.Input((models.INPUT_DIM,)), *layers], name="paper_teacher")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=checked(int, 1, strict=False), default=5,
                   help="epochs per way and round (default 5)")
    p.add_argument("--rounds", type=checked(int, 1, strict=False), default=3,
                   help="rounds of every way in turn; each way's fastest epoch over all rounds counts (default 3)")
    args = p.parse_args()
    config = dataclasses.replace(Config(), epochs=args.epochs)
    data = prepare_data(config)
    keras_dropout = lambda: with_keras_dropout(models.paper_teacher())
    ways = (("before: RandomTranslation + Dropout, XLA off", lambda: with_translation(keras_dropout()), False),
            ("RandomShift + Dropout, XLA off", keras_dropout, False),
            ("RandomShift + Dropout, XLA on", keras_dropout, True),
            ("RandomShift + HashedDropout, XLA off", models.paper_teacher, False),
            ("now: RandomShift + HashedDropout, XLA on", models.paper_teacher, True))
    fastest = {name: [] for name, _, _ in ways}
    for round_ in range(1, args.rounds + 1):
        for name, build, jit in ways:
            keras.utils.set_random_seed(0)
            clock = EpochClock()
            train_on_labels(build(), data.train, data.val, dataclasses.replace(config, jit_compile=jit), verbose=0,
                            callbacks=[clock])
            fastest[name].append(clock.fastest)
            print(f"round {round_} of {args.rounds}, {name}: {fastest[name][-1]:.2f} s per epoch", flush=True)
    print(f"\n{len(data.train[0])} examples, batch {config.batch_size}, {config.steps_per_execution} steps per call, "
          f"{args.rounds} rounds of {args.epochs} epochs per way (the fastest counts), {os.cpu_count()} CPU cores, "
          f"TensorFlow {tf.__version__}")
    print("| jitter + dropout | seconds per epoch | fastest of each round | speed-up over before |")
    print("|---|---:|---|---:|")
    before = min(fastest[ways[0][0]])
    for name, seconds in fastest.items():
        rounds = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"| {name} | {min(seconds):.2f} | {rounds} | {before / min(seconds):.2f}x |")


if __name__ == "__main__":
    main()
