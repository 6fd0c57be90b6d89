"""The paper's jitter: MNIST images moved by whole pixels, up to 2 in each direction.

There are exactly 25 such views of an image (VIEWS), so a teacher's logits for every view of a
transfer set can be computed once and cached (cache.view_logits): a student shown a random view at
each step is then taught by the teacher's logits for that very view, exact and without running the
teacher (Beyer et al. 2022: consistent teaching). Written in tensor ops that XLA compiles, so the
jitter runs inside the compiled training step.
"""

import keras
import numpy as np
import tensorflow as tf

SIDE = 28  # images are flattened SIDE x SIDE
MAX_SHIFT = 2
BACKGROUND = -1.0  # the value of an empty pixel after preprocessing: what enters from the border


def grid(max_shift):
    """Every (dx, dy) with |dx|, |dy| <= max_shift, rows of dy (top to bottom), each row left to right."""
    steps = range(-max_shift, max_shift + 1)
    return np.array([(dx, dy) for dy in steps for dx in steps], dtype=np.int32)


# View v moves an image right by VIEWS[v][0] and down by VIEWS[v][1] pixels; CENTER is the image itself.
VIEWS = grid(MAX_SHIFT)
CENTER = len(VIEWS) // 2


def shift(images, dx, dy):
    """Flattened images (N, 784) moved right by dx and down by dy pixels: integers in [-2, 2], each a scalar
    or one per image. Pixels that leave the frame are lost; those that enter are BACKGROUND."""
    images = tf.convert_to_tensor(images, tf.float32)
    n = tf.shape(images)[0]
    dx, dy = (tf.broadcast_to(tf.cast(d, tf.int32), [n]) for d in (dx, dy))
    padded = tf.pad(tf.reshape(images, [-1, SIDE, SIDE]), [[0, 0], [MAX_SHIFT, MAX_SHIFT], [MAX_SHIFT, MAX_SHIFT]],
                    constant_values=BACKGROUND)
    # out[i, j] = image[i - dy, j - dx] = padded[i - dy + MAX_SHIFT, j - dx + MAX_SHIFT]
    rows = tf.range(SIDE)[None, :] + (MAX_SHIFT - dy)[:, None]
    cols = tf.range(SIDE)[None, :] + (MAX_SHIFT - dx)[:, None]
    moved = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
    return tf.reshape(moved, [-1, SIDE * SIDE])


def view(images, v):
    """View v (an index into VIEWS: a scalar or one per image) of each image."""
    v = tf.convert_to_tensor(v, tf.int32)
    return shift(images, tf.gather(VIEWS[:, 0], v), tf.gather(VIEWS[:, 1], v))


def every_view(images, max_shift=MAX_SHIFT):
    """The 25 views of NumPy images (N, 784), one array at a time in the order of VIEWS: the same pixels as
    view(images, v), by slicing one padded copy (a fifth of the gather's time: the view cache's). With another
    max_shift, the views of grid(max_shift) in its order."""
    padded = np.pad(np.reshape(images, (-1, SIDE, SIDE)), [(0, 0), (max_shift, max_shift), (max_shift, max_shift)],
                    constant_values=BACKGROUND)
    for dx, dy in grid(max_shift):
        top, left = max_shift - dy, max_shift - dx  # out[i, j] = padded[i + top, j + left], as in shift()
        yield padded[:, top : top + SIDE, left : left + SIDE].reshape(-1, SIDE * SIDE)


def random_views(n, seed):
    """n view indices, uniform over the 25, from a keras.random.SeedGenerator (saved with backups)."""
    return keras.random.randint((n,), 0, len(VIEWS), seed=seed, dtype="int32")


@keras.saving.register_keras_serializable(package="distiller")
class RandomShift(keras.layers.Layer):
    """In training, each image moved by a random whole-pixel shift of up to MAX_SHIFT in each direction (the
    25 views equally likely); at inference, the identity. Compiles with XLA, unlike RandomTranslation."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        return view(images, random_views(tf.shape(images)[0], self.seed_generator))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
