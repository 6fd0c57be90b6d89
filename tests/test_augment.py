"""The paper's jitter as whole-pixel shifts: against a NumPy reference, compiled and eager alike."""

import numpy as np
import tensorflow as tf

from distiller import augment


def reference(image, dx, dy):
    """One flattened image moved right by dx and down by dy, the border filled with -1: by slicing."""
    image, out = image.reshape(28, 28), np.full((28, 28), -1.0, np.float32)
    out[max(dy, 0) : 28 + min(dy, 0), max(dx, 0) : 28 + min(dx, 0)] = image[max(-dy, 0) : 28 - max(dy, 0),
                                                                           max(-dx, 0) : 28 - max(dx, 0)]
    return out.reshape(784)


def images(n=6):
    return np.random.default_rng(0).uniform(-1, 1, (n, 784)).astype(np.float32)


def test_every_one_of_the_25_shifts_matches_the_reference():
    x = images()
    assert len(augment.VIEWS) == 25 and tuple(augment.VIEWS[augment.CENTER]) == (0, 0)
    for dx, dy in augment.VIEWS:
        expected = np.stack([reference(image, dx, dy) for image in x])
        np.testing.assert_array_equal(augment.shift(x, int(dx), int(dy)).numpy(), expected)
    moved = augment.shift(x, 1, 0).numpy().reshape(-1, 28, 28)
    np.testing.assert_array_equal(moved[:, :, 1:], x.reshape(-1, 28, 28)[:, :, :-1])  # right means right


def test_one_shift_per_image_and_the_compiled_shift_agree():
    x = images(64)
    v = np.random.default_rng(1).integers(0, 25, 64)
    expected = np.stack([reference(image, *augment.VIEWS[i]) for image, i in zip(x, v, strict=True)])
    np.testing.assert_array_equal(augment.view(x, v).numpy(), expected)
    compiled = tf.function(augment.view, jit_compile=True)
    np.testing.assert_array_equal(compiled(tf.constant(x), tf.constant(v, tf.int32)).numpy(), expected)


def test_every_view_gives_the_25_shifted_images_in_the_order_of_views():
    x = images(64)
    views = list(augment.every_view(x))
    assert len(views) == 25
    for v, view in enumerate(views):
        assert view.dtype == np.float32
        np.testing.assert_array_equal(view, augment.view(x, v).numpy())
        np.testing.assert_array_equal(view[0], reference(x[0], *augment.VIEWS[v]))


def test_random_shift_is_a_view_in_training_and_the_identity_at_inference():
    x = np.repeat(images(1), 2000, axis=0)
    layer = augment.RandomShift(seed=3)
    np.testing.assert_array_equal(layer(x, training=False), x)
    views = np.stack([augment.view(x[:1], i).numpy()[0] for i in range(25)])
    moved = layer(x, training=True).numpy()
    which = [int(np.flatnonzero((views == row).all(axis=1))[0]) for row in moved]  # each output is one view
    counts = np.bincount(which, minlength=25)
    assert counts.min() > 40  # all 25 views drawn, about equally (80 expected each)
