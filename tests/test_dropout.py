"""HashedDropout behaves as keras.layers.Dropout: the drop rate, the scaling, a fresh mask every step,
the identity at inference; the same under XLA; saved and loaded with its rate and seed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from distiller.dropout import HashedDropout, mix32


def masks(layer, steps, shape=(128, 1200)):
    ones = tf.ones(shape)
    return np.stack([layer(ones, training=True).numpy() != 0 for _ in range(steps)])


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_drops_the_rate_scales_the_rest_and_is_the_identity_at_inference(rate):
    layer = HashedDropout(rate, seed=1)
    x = tf.random.normal((128, 1200), seed=0)
    out = layer(x, training=True).numpy()
    kept = out != 0
    # 153,600 draws: the kept fraction is within 4 standard deviations of 1 - rate.
    assert abs(kept.mean() - (1 - rate)) < 4 * np.sqrt(rate * (1 - rate) / kept.size)
    np.testing.assert_allclose(out[kept], x.numpy()[kept] / (1 - rate), rtol=1e-6)
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_every_step_draws_a_new_mask_unrelated_to_the_last_and_to_its_neighbours():
    m = masks(HashedDropout(0.5, seed=7), steps=20).astype(float)
    flat = m.reshape(20, -1)
    step_to_step = [np.corrcoef(flat[i], flat[i + 1])[0, 1] for i in range(19)]
    unit_to_unit = np.corrcoef(m[:, :, :-1].ravel(), m[:, :, 1:].ravel())[0, 1]
    row_to_row = np.corrcoef(m[:, :-1].ravel(), m[:, 1:].ravel())[0, 1]
    # Independent fair bits: correlations ~ N(0, 1/sqrt(n)); 0.01 is > 3.9 of those standard deviations.
    assert max(np.abs(step_to_step)) < 0.01 and abs(unit_to_unit) < 0.01 and abs(row_to_row) < 0.01
    assert 0.49 < m.mean() < 0.51 and not (flat[0] == flat[1]).all()


def test_seeds_give_different_streams_and_the_same_seed_the_same_stream():
    a, b, c = (masks(HashedDropout(0.5, seed=s), steps=3) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.45


def test_compiled_by_xla_it_draws_the_same_masks_as_eagerly():
    eager, compiled = HashedDropout(0.2, seed=3), HashedDropout(0.2, seed=3)
    x = tf.ones((64, 784))
    step = tf.function(lambda x: compiled(x, training=True), jit_compile=True)
    for _ in range(3):
        np.testing.assert_array_equal(eager(x, training=True), step(x))


def test_the_mixer_is_a_bijection_on_a_sample():
    values = tf.constant(np.arange(0, 2**32, 2**32 // 100_003, dtype=np.uint32))
    assert len(np.unique(mix32(values).numpy())) == len(values)


def test_saved_and_loaded_it_keeps_its_rate_and_seed(tmp_path):
    # The step count travels in backups (test_resume.py resumes the paper teacher bit for bit), not in .keras.
    model = keras.Sequential([keras.Input((784,)), HashedDropout(0.2, seed=5)])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].get_config()["rate"] == 0.2 and loaded.layers[0].get_config()["seed"] == 5
    x = tf.ones((32, 784))
    np.testing.assert_array_equal(loaded(x, training=True), HashedDropout(0.2, seed=5)(x, training=True))


def test_a_rate_outside_0_1_is_refused():
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\), got 1.0"):
        HashedDropout(1.0)
