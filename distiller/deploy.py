"""A trained Keras model as it is served: a TensorFlow SavedModel and LiteRT flatbuffers, and what each
costs at serving time (file size, latency at batch 1, throughput at batch 1,024).

The LiteRT files are written by TensorFlow's converter and run by `ai-edge-litert`, the maintained
LiteRT interpreter (`tf.lite.Interpreter` is deprecated).
"""

import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from distiller import atomic
from distiller.errors import DistillerError

THREADS = len(os.sched_getaffinity(0))  # LiteRT and TensorFlow both use every core of the machine


def export_saved_model(model, path):
    """A SavedModel with the serving endpoint `serve` (x -> logits), checked on `x`-like input later."""
    with atomic.replacing(path) as temp:
        model.export(temp, verbose=False)


def litert_bytes(saved_model, int8=False):
    """The SavedModel as a LiteRT flatbuffer: float32, or with dynamic-range int8 weights (activations stay
    float; the weights are 4x smaller)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


class SavedModelPredictor:
    """predict(x) -> logits through a SavedModel's `serve` endpoint, as TensorFlow Serving would call it."""

    def __init__(self, path):
        self.model = tf.saved_model.load(str(path))

    def __call__(self, x):
        return self.model.serve(tf.constant(x)).numpy()


class LiteRTPredictor:
    """predict(x) -> logits with the LiteRT interpreter; the input is resized when the batch size changes."""

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=THREADS)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = None

    def __call__(self, x):
        if len(x) != self.batch:
            self.interpreter.resize_tensor_input(self.input, [len(x), x.shape[1]])
            self.interpreter.allocate_tensors()
            self.batch = len(x)
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(x, np.float32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


def predict_all(predict, x, batch=1024):
    return np.concatenate([predict(x[i : i + batch]) for i in range(0, len(x), batch)])


def latency_ms(predict, x, calls=1000, warmup=50):
    """(median, 95th percentile) milliseconds of predict on one image, over `calls` calls."""
    one = x[:1]
    for _ in range(warmup):
        predict(one)
    times = np.array([seconds_of(predict, one) for _ in range(calls)])
    return float(np.median(times) * 1e3), float(np.percentile(times, 95) * 1e3)


def images_per_second(predict, x, batch=1024, repeats=10):
    """Throughput at `batch` images per call: the fastest of `repeats` calls (the machine is noisy)."""
    x = x[:batch]
    predict(x)
    return len(x) / min(seconds_of(predict, x) for _ in range(repeats))


def seconds_of(f, *args):
    started = time.perf_counter()
    f(*args)
    return time.perf_counter() - started


def size_bytes(path):
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def shift_bias_in_saved_model(source, target, b, digit):
    """Add b to the bias of output `digit` of a SavedModel and save it again: a deployed model fixed by
    editing one number, no Keras and no retraining (the class-3 experiment's last step)."""
    loaded = tf.saved_model.load(str(source))
    found = [v for v in loaded.variables if v.name.startswith("logits/bias")]
    if len(found) != 1:
        raise DistillerError(f"{source} has no single logits/bias variable to shift (found {len(found)})")
    found[0].assign_add(tf.one_hot(digit, found[0].shape[0], on_value=float(b), off_value=0.0))
    with atomic.replacing(target) as temp:
        tf.saved_model.save(loaded, str(temp), signatures=loaded.signatures)
