"""Seconds per distillation epoch of the 600-600 student over the training split, our Distiller against two
others, in one process (timings of one machine move by a third between runs; ratios within a run are steadier).

  (a) a keras.io-style Distiller: the teacher runs at every step (keras.io knowledge_distillation)
  (b) keras.distillation.Distiller with LogitsDistillation(loss=KLDivergence()) (teacher every step)
  (c) distiller.Distiller: the teacher's logits computed once (cache.py), then only the student runs

(a) and (b) run twice: at Keras's default compile settings (XLA off on CPUs, 1 step per call) and compiled as ours
is (XLA on, 32 steps per call), so that like is compared with like. Then the machine's limit: the epoch's training
FLOPs over the float32 matmul rate measured at the shapes one training step multiplies. The teacher is untrained:
only its shape matters to the time. Trains nothing that is kept.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from distiller import models
from distiller.deploy import seconds_of
from distiller.distiller import Distiller
from distiller.models import logits
from distiller.report import provenance

NAME = "speed"
NEEDS_TEACHER = False  # times an untrained teacher of the Teacher's shape
EPOCHS = 5  # per way; the fastest counts (the first includes tracing and compiling)
T, LAMBDA = 20.0, 1.0  # any values: they change no time
OURS = "(c) distiller.Distiller, cached teacher logits, compiled as train.py runs it"


class EpochClock(keras.callbacks.Callback):
    """After fit, `fastest` is the shortest epoch's seconds."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)

    @property
    def fastest(self):
        return min(self.seconds)


class KerasIoDistiller(keras.Model):
    """The keras.io example's structure (Keras 3 port): compute_loss runs the teacher at every step."""

    def __init__(self, student, teacher):
        super().__init__()
        self.teacher, self.student = teacher, student
        teacher.trainable = False

    def call(self, x):
        return self.student(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        teacher_pred = self.teacher(x, training=False)
        hard = keras.losses.sparse_categorical_crossentropy(y, y_pred, from_logits=True)
        soft = keras.losses.KLDivergence()(keras.ops.softmax(teacher_pred / T), keras.ops.softmax(y_pred / T)) * T**2
        return keras.ops.mean(hard) + LAMBDA * soft


def keras_distillation(student, teacher):
    return keras.distillation.Distiller(
        teacher, student, student_loss_weight=0.5,
        distillation_losses=keras.distillation.LogitsDistillation(temperature=T, loss=keras.losses.KLDivergence()))


PEERS = {"(a) keras.io-style Distiller": KerasIoDistiller,
         "(b) keras.distillation.Distiller": keras_distillation}


def run(ctx, progress):
    config, (x, y) = ctx.config, ctx.data.train
    epochs = min(EPOCHS, config.epochs)
    ours_compiled = {"jit_compile": config.jit_compile, "steps_per_execution": config.steps_per_execution}
    keras.utils.set_random_seed(config.seed)
    teacher, seconds = models.teacher(), {}

    def timed(name, model, inputs):
        clock = EpochClock()
        model.fit(inputs, y, batch_size=config.batch_size, epochs=epochs, shuffle=False, verbose=0, callbacks=[clock])
        seconds[name] = clock.fastest
        ctx.log(f"speed: {name}: {seconds[name]:.2f} s per epoch ({len(seconds)} of 6)")

    for name, make in PEERS.items():
        for how, compiled in (("Keras's defaults (XLA off, 1 step per call)", {}),
                              ("compiled as ours", ours_compiled)):
            keras.utils.set_random_seed(config.seed)
            peer = make(models.student(), teacher)
            peer.compile(keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                         **compiled)
            timed(f"{name}, {how}", peer, x)
    started = time.perf_counter()
    cached = logits(teacher, x)
    once = time.perf_counter() - started
    for name, compiled in (("(c) distiller.Distiller, cached teacher logits, XLA off, 1 step per call",
                            {"jit_compile": False, "steps_per_execution": 1}), (OURS, ours_compiled)):
        keras.utils.set_random_seed(config.seed)
        ours = Distiller(student=models.student())
        ours.compile(keras.optimizers.Adam(1e-3), temperature=T, lambda_=LAMBDA, **compiled)
        timed(name, ours, {"pixels": x, "teacher_logits": cached})
    flops = training_flops(ours.student, len(x))
    return {"seconds": seconds, "teacher_logits_seconds": once, "examples": len(x), "epochs": epochs,
            "training_gflop": flops / 1e9,
            "step_gflops": step_matmul_flops_per_second(ours.student, config.batch_size) / 1e9}


def training_flops(model, examples):
    """Forward 2W, backward 4W multiply-adds per example for the dense weights W (6W in all)."""
    return 6 * examples * sum(int(np.prod(layer.kernel.shape)) for layer in model.layers if hasattr(layer, "kernel"))


def step_matmul_flops_per_second(model, batch, steps=20):
    """The float32 matmul rate at the shapes of one training step of `model`: forward x @ W, and the gradients
    x^T @ dy and dy @ W^T (not for the first layer). One graph computes the products of `steps` steps, each on
    inputs of its own (so that none can be merged or hoisted); the fastest of 5 calls."""
    shapes = []  # (m, k, n) of each product
    for i, (n_in, n_out) in enumerate(layer.kernel.shape for layer in model.layers if hasattr(layer, "kernel")):
        shapes += [(batch, n_in, n_out), (n_in, batch, n_out)] + ([(batch, n_out, n_in)] if i else [])
    pairs = [(tf.random.normal((m, k)), tf.random.normal((k, n))) for _ in range(steps) for m, k, n in shapes]
    products = tf.function(lambda pairs: tf.add_n([tf.reduce_sum(tf.matmul(a, b)) for a, b in pairs]))
    products(pairs).numpy()  # traced
    fastest = min(seconds_of(lambda: products(pairs).numpy()) for _ in range(5))
    return steps * sum(2 * m * k * n for m, k, n in shapes) / fastest


def render(section, name=NAME):
    r = section["result"]
    ours = r["seconds"][OURS]
    limit = r["training_gflop"] / r["step_gflops"]
    c = section["config"]
    lines = [(f"## Speed: seconds per distillation epoch ({r['examples']:,} images, batch {c['batch_size']}, "
              f"the fastest of {r['epochs']} epochs per way)"), "",
             (f"Compiled as ours: XLA {'on' if c['jit_compile'] else 'off'}, {c['steps_per_execution']} step(s) per "
              "call, as train.py runs it."), "",
             "| way | seconds per epoch | relative to ours |", "|---|---:|---:|"]
    lines += [f"| {way} | {seconds:.2f} | {seconds / ours:.2f}x |" for way, seconds in r["seconds"].items()]
    lines += [(f"| the limit: {r['training_gflop']:.0f} GFLOP of training matmuls at {r['step_gflops']:.0f} GFLOP/s, "
              f"measured at the shapes a step multiplies | {limit:.2f} | {limit / ours:.2f}x |"), "",
              (f"Ours computes the teacher's logits once ({r['teacher_logits_seconds']:.1f} s), for every epoch, seed "
              "and tuner trial; (a) and (b) run the teacher at every step."), "",
              provenance(section, epochs=f"{r['epochs']} epochs per way", seeds=1), ""]
    return lines
