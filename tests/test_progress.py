"""The progress bar counts the steps that ran, also when several run per call (keras issue 20861)."""

import keras
import numpy as np

from distiller.progress import ProgressBar


def counts_shown(bar, steps_per_execution=4):
    """The step counts `bar` is given during one epoch of 13 steps (100 examples, batch 8)."""
    shown = []

    class Recording(bar):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            shown.append(self.seen)  # ProgbarLogger's public count of the steps it shows

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=steps_per_execution)
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(100, 4)).astype("float32"), rng.integers(0, 3, 100), batch_size=8, epochs=1,
              verbose=2, callbacks=[Recording()])
    return shown


def test_counts_end_at_the_steps_run():
    assert counts_shown(ProgressBar) == [4, 8, 12, 13]


def test_keras_own_bar_overcounts_the_last_call():
    # The bug the ProgressBar exists for: if Keras fixes it, this fails and the ProgressBar can go.
    assert counts_shown(keras.callbacks.ProgbarLogger) == [4, 8, 12, 16]


def test_one_step_per_call_is_unchanged():
    assert counts_shown(ProgressBar, steps_per_execution=1) == list(range(1, 14))
