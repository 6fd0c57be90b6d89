"""Training batches in a new order every epoch; epoch e's order is a function of (seed, e) alone.

Why not `fit(x, y, shuffle=True)`: Keras 3.15 shuffles in-memory arrays with a random op whose seed is
fixed when the fit starts, so under a global seed (keras.utils.set_random_seed, which every run here sets
for its initial weights) every epoch draws the same permutation: one batch order for the whole training.
Here the order of epoch e is tf.random.experimental.stateless_shuffle with the seed (seed, e): new every
epoch, and the same in a run resumed after a kill (at epoch e) as in an uninterrupted one.
"""

import math

import keras
import tensorflow as tf


class EpochOrder(keras.callbacks.Callback):
    """Batches of (x, y) in the order of (seed, epoch). Pass `dataset` to fit in place of x and y, and this
    callback in `callbacks=`: it sets the epoch before Keras makes the epoch's iterator (fit calls
    on_epoch_begin first), so the permutation drawn when the iterator starts is that epoch's."""

    def __init__(self, x, y, batch_size, seed):
        super().__init__()
        self.size, self.batch_size, self.seed = len(y), batch_size, seed
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.dataset = self.batches(x, y)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)

    def order(self, epoch):
        """The permutation of epoch `epoch`: the rows of x in the order they are trained on."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(epoch, tf.int64)])
        return tf.random.experimental.stateless_shuffle(tf.range(self.size, dtype=tf.int64), seed=seed)

    def batches(self, x, y):
        arrays = tf.data.Dataset.from_tensors((x, y)).repeat()  # as Keras's own array adapter holds them
        indices = tf.data.Dataset.range(1).map(lambda _: self.order(self.epoch.read_value())).unbatch()
        gathered = tf.data.Dataset.zip(indices.batch(self.batch_size), arrays).map(
            lambda rows, data: tf.nest.map_structure(lambda a: tf.gather(a, rows), data))
        steps = math.ceil(self.size / self.batch_size)
        return gathered.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)
