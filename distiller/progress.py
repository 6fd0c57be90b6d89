"""Keras's progress bar with true step counts.

With steps_per_execution > 1, Keras 3 reports the end of every call as `begin + steps_per_execution - 1`,
also for the last call of an epoch, which runs fewer steps: `make run` showed 448/430 before 430/430
(keras-team/keras issue 20861). The steps a call runs are never more than the epoch has left, so the
count is clipped to the epoch's length; the bar is otherwise Keras's own.
"""

import keras

from distiller.errors import raise_if_interrupted


class ProgressBar(keras.callbacks.ProgbarLogger):
    """Pass it in `callbacks=` in place of the default bar (Keras adds none when one is there). Every fit has
    one, so its step and epoch ends are the fit's safe points: where a Ctrl-C held back by errors.deferred, or
    one that Python swallowed, is raised (errors.raise_if_interrupted)."""

    def clipped(self, batch):
        return batch if self.target is None else min(batch, self.target - 1)

    def on_train_batch_end(self, batch, logs=None):
        raise_if_interrupted()
        super().on_train_batch_end(self.clipped(batch), logs)

    def on_epoch_end(self, epoch, logs=None):
        raise_if_interrupted()
        super().on_epoch_end(epoch, logs)

    def on_test_batch_end(self, batch, logs=None):
        raise_if_interrupted()
        super().on_test_batch_end(self.clipped(batch), logs)

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(self.clipped(batch), logs)
