"""The benchmarks' timer: a Keras callback that records each epoch's seconds."""

import time

import keras


class EpochClock(keras.callbacks.Callback):
    """After fit, `fastest` is the shortest epoch (the first includes tracing and compiling)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)

    @property
    def fastest(self):
        return min(self.seconds)
