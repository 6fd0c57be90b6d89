"""The batch order: new every epoch, a function of (seed, epoch) alone, so a resumed fit sees what an
uninterrupted one saw."""

import keras
import numpy as np
import tensorflow as tf

from distiller.batches import EpochOrder

X = np.arange(64, dtype=np.float32)[:, None]
Y = np.arange(64)


class Recorder(keras.Model):
    """Trains nothing; records the labels of every batch it is given, per epoch."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        self.seen[-1].extend(data[1].numpy().tolist())
        return {"examples": len(data[1])}


class NewEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.model.seen.append([])


def orders(seed, epochs=3, initial_epoch=0):
    model = Recorder()
    model.compile(run_eagerly=True)
    order = EpochOrder(X, Y, batch_size=8, seed=seed)
    model.fit(order.dataset, epochs=epochs, initial_epoch=initial_epoch, shuffle=False, verbose=0,
              callbacks=[order, NewEpoch()])
    return model.seen


def test_every_epoch_has_its_own_order_of_every_example():
    keras.utils.set_random_seed(0)  # a global seed made Keras's own shuffle repeat one order every epoch
    seen = orders(seed=0)
    assert all(sorted(epoch) == list(range(64)) for epoch in seen)  # each epoch sees every example once
    firsts = [tuple(epoch[:8]) for epoch in seen]
    assert len(set(firsts)) == 3, firsts


def test_the_order_is_a_function_of_seed_and_epoch_alone():
    whole = orders(seed=5)
    assert orders(seed=5) == whole
    # A fit resumed at epoch 1 (BackupAndRestore's initial epoch) sees epochs 1 and 2 as the whole fit did.
    assert orders(seed=5, initial_epoch=1) == whole[1:]
    assert orders(seed=6)[0] != whole[0]


def test_dict_inputs_keep_rows_together():
    order = EpochOrder({"pixels": X, "teacher_logits": X * 10}, Y, batch_size=16, seed=0)
    order.on_epoch_begin(2)
    inputs, labels = next(iter(order.dataset))
    np.testing.assert_array_equal(inputs["pixels"][:, 0], tf.cast(labels, tf.float32))
    np.testing.assert_array_equal(inputs["teacher_logits"][:, 0], 10 * tf.cast(labels, tf.float32))
    assert order.dataset.cardinality() == 4
