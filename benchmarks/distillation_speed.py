"""Seconds per distillation epoch (Student 600-600 over the training split), three ways, one process.

  (a) a keras.io-style Distiller: the teacher runs at every step (keras.io knowledge_distillation)
  (b) keras.distillation.Distiller with LogitsDistillation(loss=KLDivergence()) (teacher every step)
  (c) distiller.Distiller: teacher logits computed once, then only the student runs

(a) and (b) run twice: at Keras's default compile settings (XLA off on CPU, 1 step per call) and compiled
as ours is (XLA on, 32 steps per call), so that the ratio of like with like shows what the cached logits
alone buy. Then the machine's limit: the epoch's training FLOPs divided by the float32 matmul rate,
measured at 2048 x 2048 x 2048 and at the shapes one training step multiplies (batch 128 by 784 by 600...).

    python benchmarks/distillation_speed.py [--epochs 5] [--batch-size 128]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from clock import EpochClock  # benchmarks/clock.py, beside this script

from distiller import models
from distiller.config import Config
from distiller.distiller import Distiller
from distiller.experiments import prepare_data
from distiller.training import logits

T, LAMBDA = 20.0, 1.0


class KerasIoDistiller(keras.Model):
    """The keras.io example's structure (Keras 3 port): compute_loss runs the teacher every step."""

    def __init__(self, student, teacher):
        super().__init__()
        self.teacher, self.student = teacher, student
        teacher.trainable = False

    def call(self, x):
        return self.student(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        teacher_pred = self.teacher(x, training=False)
        hard = keras.losses.sparse_categorical_crossentropy(y, y_pred, from_logits=True)
        soft = keras.losses.KLDivergence()(
            keras.ops.softmax(teacher_pred / T), keras.ops.softmax(y_pred / T)
        ) * T**2
        return keras.ops.mean(hard) + LAMBDA * soft


def epoch_seconds(model, x, y, batch_size, epochs):
    """Fit `epochs` epochs, return the fastest epoch's seconds (the first includes tracing)."""
    clock = EpochClock()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[clock])
    return clock.fastest


def step_matmul_flops_per_second(model, batch, steps=20):
    """The matmul rate at the shapes of one training step of `model` (dense layers, batch `batch`): forward
    x @ W, and the gradients x^T @ dy and dy @ W^T (not for the first layer). One graph computes the
    products of `steps` steps, each on inputs of its own (so that none can be merged or hoisted), and
    sums each product (a pass over its output: a small cost, left in); the fastest of 5 calls."""
    shapes = []  # (m, k, n) of each product
    for i, (n_in, n_out) in enumerate(layer.kernel.shape for layer in model.layers if hasattr(layer, "kernel")):
        shapes += [(batch, n_in, n_out), (n_in, batch, n_out)] + ([(batch, n_out, n_in)] if i else [])
    pairs = [(tf.random.normal((m, k)), tf.random.normal((k, n))) for _ in range(steps) for m, k, n in shapes]
    products = tf.function(lambda pairs: tf.add_n([tf.reduce_sum(tf.matmul(a, b)) for a, b in pairs]))
    products(pairs).numpy()
    fastest = min(timed(lambda: products(pairs).numpy()) for _ in range(5))
    return steps * sum(2 * m * k * n for m, k, n in shapes) / fastest


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def matmul_flops_per_second(n=2048, repeats=20):
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    product = tf.function(lambda a, b: tf.matmul(a, b))
    product(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        c = product(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def training_flops(model, examples):
    """Forward 2*W, backward 4*W multiply-adds per example for the dense weights W (6W in all)."""
    weights = sum(int(np.prod(layer.kernel.shape)) for layer in model.layers if hasattr(layer, "kernel"))
    return 6 * weights * examples


def keras_io(teacher):
    return KerasIoDistiller(models.student(), teacher)


def keras_distillation(teacher):
    return keras.distillation.Distiller(
        teacher, models.student(),
        distillation_losses=keras.distillation.LogitsDistillation(temperature=T, loss=keras.losses.KLDivergence()),
        student_loss_weight=0.5,
    )


PEERS = {"(a) keras.io-style Distiller": keras_io, "(b) keras.distillation.Distiller": keras_distillation}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5, help="epochs per way; the fastest counts (default 5)")
    p.add_argument("--batch-size", type=int, default=Config().batch_size)
    args = p.parse_args()
    data = prepare_data(Config())
    x, y = data.train
    keras.utils.set_random_seed(0)
    teacher = models.teacher()
    default = Config()
    ours_compiled = {"jit_compile": default.jit_compile, "steps_per_execution": default.steps_per_execution}
    rows = []
    for name, make in PEERS.items():
        for compiled in ({}, ours_compiled):  # Keras's defaults, then as train.py compiles ours
            keras.utils.set_random_seed(0)
            peer = make(teacher)
            peer.compile(keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                         **compiled)
            how = "compiled as ours (XLA on, 32 steps per call)" if compiled else "Keras's defaults (XLA off, 1 step per call)"
            rows.append((f"{name}, {how}", epoch_seconds(peer, x, y, args.batch_size, args.epochs)))

    start = time.perf_counter()
    cached = logits(teacher, x)
    once = time.perf_counter() - start
    for jit, steps in ((False, 1), (True, 1), (default.jit_compile, default.steps_per_execution)):
        keras.utils.set_random_seed(0)
        c = Distiller(models.student())
        c.compile(keras.optimizers.Adam(1e-3), temperature=T, lambda_=LAMBDA, jit_compile=jit,
                  steps_per_execution=steps)
        seconds = epoch_seconds(c, {"pixels": x, "teacher_logits": cached}, y, args.batch_size, args.epochs)
        name = f"(c) distiller.Distiller, cached logits, XLA {'on' if jit else 'off'}, {steps} step(s) per call"
        rows.append((name, seconds))
    ours = rows[-1][1]  # the defaults of train.py and tune.py

    flops = training_flops(c.student, len(x))
    limits = {"2048 x 2048 x 2048": matmul_flops_per_second(),
              f"the step's shapes (batch {args.batch_size})": step_matmul_flops_per_second(c.student, args.batch_size)}
    print(f"\n{len(x)} examples, batch {args.batch_size}, {args.epochs} epochs per way (fastest counts), "
          f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(f"teacher logits for (c), once for all epochs, runs and trials: {once:.2f} s\n")
    print("| way | seconds per epoch | relative to (c) as train.py runs it |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / ours:.2f}x |")
    for shapes, rate in limits.items():
        print(f"| matmul-bound limit: {flops / 1e9:.0f} GFLOP at {rate / 1e9:.0f} GFLOP/s, measured at {shapes} | "
              f"{flops / rate:.2f} | {flops / rate / ours:.2f}x |")


if __name__ == "__main__":
    main()
