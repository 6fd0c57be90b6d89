"""Seconds per distillation epoch (Student 600-600 over the training split), three ways, one process.

  (a) a keras.io-style Distiller: the teacher runs at every step (keras.io knowledge_distillation)
  (b) keras.distillation.Distiller with LogitsDistillation(loss=KLDivergence()) (teacher every step)
  (c) distiller.Distiller: teacher logits computed once, then only the student runs

and the machine's limit: the epoch's training FLOPs divided by the float32 matmul rate measured here.

    python benchmarks/distillation_speed.py [--epochs 2] [--batch-size 128]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

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
    times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[Clock()])
    return min(times)


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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3, help="epochs per way; the fastest counts (default 3)")
    p.add_argument("--batch-size", type=int, default=Config().batch_size)
    args = p.parse_args()
    data = prepare_data(Config())
    x, y = data.train
    keras.utils.set_random_seed(0)
    teacher = models.teacher()
    rows = []

    keras.utils.set_random_seed(0)
    a = KerasIoDistiller(models.student(), teacher)
    a.compile(keras.optimizers.Adam(1e-3))
    rows.append(("(a) keras.io-style Distiller", epoch_seconds(a, x, y, args.batch_size, args.epochs)))

    keras.utils.set_random_seed(0)
    b = keras.distillation.Distiller(
        teacher, models.student(),
        distillation_losses=keras.distillation.LogitsDistillation(temperature=T, loss=keras.losses.KLDivergence()),
        student_loss_weight=0.5,
    )
    b.compile(keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rows.append(("(b) keras.distillation.Distiller", epoch_seconds(b, x, y, args.batch_size, args.epochs)))

    start = time.perf_counter()
    cached = logits(teacher, x)
    once = time.perf_counter() - start
    default = Config()
    for jit, steps in ((False, 1), (True, 1), (default.jit_compile, default.steps_per_execution)):
        keras.utils.set_random_seed(0)
        c = Distiller(models.student())
        c.compile(keras.optimizers.Adam(1e-3), temperature=T, lambda_=LAMBDA, jit_compile=jit,
                  steps_per_execution=steps)
        seconds = epoch_seconds(c, {"pixels": x, "teacher_logits": cached}, y, args.batch_size, args.epochs)
        name = f"(c) distiller.Distiller, cached logits, XLA {'on' if jit else 'off'}, {steps} step(s) per call"
        rows.append((name, seconds))
    ours = rows[-1][1]  # the defaults of train.py and tune.py

    limit = training_flops(c.student, len(x)) / matmul_flops_per_second()
    print(f"\n{len(x)} examples, batch {args.batch_size}, {args.epochs} epochs per way (fastest counts), "
          f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(f"teacher logits for (c), once for all epochs, runs and trials: {once:.2f} s\n")
    print("| way | seconds per epoch | relative to (c) as train.py runs it |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / ours:.2f}x |")
    print(f"| matmul-bound limit: {training_flops(c.student, len(x)) / 1e9:.0f} GFLOP at the measured "
          f"{training_flops(c.student, len(x)) / limit / 1e9:.0f} GFLOP/s | {limit:.2f} | {limit / ours:.2f}x |")


if __name__ == "__main__":
    main()
