"""Dropout whose random mask XLA can fuse: the paper teacher's dropout, so that it trains with XLA on the CPU.

Keras's Dropout draws its mask from TensorFlow's stateless generator; compiled by XLA on this CPU that
made the paper teacher's epoch 2.2x slower than with XLA off (benchmarks/jitter_speed.py), so the teacher
trained without XLA. Here each unit's keep/drop bit is a hash of (layer seed, step, position): a
counter-based generator (like Philox, but a few integer multiplies and xor-shifts), elementwise, so XLA
fuses it into the step, and the teacher trains 1.4x faster than before. The mixer is Chris Wellons'
"lowbias32"; keyed twice by the step's 32-bit key it gives a fresh, uncorrelated mask at every step
(tests/test_dropout.py measures it).
"""

import keras
import tensorflow as tf

GOLDEN = 0x9E3779B9  # 2^32 / golden ratio: spreads consecutive steps over the 32-bit range


def mix32(h):
    """lowbias32: a bijection of uint32 whose output bits each depend on every input bit."""
    for multiplier in (0x7FEB352D, 0x846CA68B):
        h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))
        h = h * tf.constant(multiplier, tf.uint32)
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, tf.constant(16, tf.uint32)))


def random_bits(shape, seed):
    """uint32 random-looking bits for every position of `shape`, a function of the pair `seed` = (a layer's
    seed, the step), as a keras.random.SeedGenerator hands it out."""
    salt, step = (tf.cast(part, tf.uint32) for part in tf.unstack(seed))
    key = mix32(step * tf.constant(GOLDEN, tf.uint32) + mix32(salt))
    position = tf.cast(tf.reshape(tf.range(tf.reduce_prod(shape)), shape), tf.uint32)
    # Keyed twice: two steps whose keys differ only in low bits still get unrelated masks.
    return mix32(mix32(tf.bitwise.bitwise_xor(position, key)) + key)


@keras.saving.register_keras_serializable(package="distiller")
class HashedDropout(keras.layers.Layer):
    """keras.layers.Dropout(rate) in effect (each input zeroed with probability `rate` in training, the
    rest scaled by 1 / (1 - rate); the identity at inference), with a mask XLA fuses. Its SeedGenerator
    counts the steps (and is saved with a model's backups, so a resumed run draws the same masks)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"HashedDropout: rate must be in [0, 1), got {rate}")
        self.rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        bits = random_bits(tf.shape(inputs), self.seed_generator.next())
        keep = tf.cast(bits, tf.float32) >= self.rate * 2.0**32
        return tf.where(keep, inputs / (1.0 - self.rate), tf.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
