"""Seconds per epoch of the paper's regularized teacher (1200-1200, jitter, dropout, max-norm) on the
training split, with its jitter done two ways, in one process:

  RandomTranslation (Keras's layer): XLA cannot compile it, so the teacher trains with XLA off
  augment.RandomShift (whole-pixel shifts in gather ops): the same jitter inside the XLA-compiled step

    python benchmarks/jitter_speed.py [--epochs 5]
"""

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from distiller import augment, models
from distiller.config import Config
from distiller.experiments import prepare_data
from distiller.training import train_on_labels


def with_shift(teacher):
    """The paper teacher with its Reshape / RandomTranslation / Flatten replaced by one RandomShift."""
    kept = [layer for layer in teacher.layers if not isinstance(
        layer, (keras.layers.Reshape, keras.layers.RandomTranslation, keras.layers.Flatten))]
    return keras.Sequential([keras.Input((models.INPUT_DIM,)), augment.RandomShift(), *kept], name="paper_teacher")


def epoch_seconds(model, data, config):
    times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    train_on_labels(model, data.train, data.val, config, verbose=0, callbacks=[Clock()])
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5, help="epochs per way; the fastest counts (default 5)")
    args = p.parse_args()
    config = dataclasses.replace(Config(), epochs=args.epochs)
    data = prepare_data(config)
    rows = []
    for name, build, jit in (("RandomTranslation, XLA off (as the paper stage trains it)", models.paper_teacher, False),
                             ("augment.RandomShift, XLA on", lambda: with_shift(models.paper_teacher()), True)):
        keras.utils.set_random_seed(0)
        rows.append((name, epoch_seconds(build(), data, dataclasses.replace(config, jit_compile=jit))))
    print(f"\n{len(data.train[0])} examples, batch {config.batch_size}, {config.steps_per_execution} steps per call, "
          f"{args.epochs} epochs per way (fastest counts), {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}")
    print("| jitter | seconds per epoch | relative to RandomShift with XLA |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / rows[-1][1]:.2f}x |")


if __name__ == "__main__":
    main()
