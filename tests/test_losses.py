import numpy as np
import pytest
import tensorflow as tf

from distiller.losses import are_probabilities, distillation_loss


def reference(labels, z, v, T, lam):
    """Hinton et al.'s objective in plain NumPy, written independently of distiller.losses."""

    def log_softmax(a):
        a = a - a.max(axis=1, keepdims=True)
        return a - np.log(np.exp(a).sum(axis=1, keepdims=True))

    hard = -log_softmax(z)[np.arange(len(labels)), labels]
    p = np.exp(log_softmax(v / T))
    soft = -(p * log_softmax(z / T)).sum(axis=1)
    return np.mean(hard + lam * T**2 * soft)


@pytest.mark.parametrize("T, lam", [(1.0, 0.0), (1.0, 1.0), (4.0, 0.5), (20.0, 1.0), (0.3, 3.0)])
def test_matches_numpy_reference(T, lam):
    rng = np.random.default_rng(0)
    z, v = rng.normal(size=(2, 8, 10)) * 3
    labels = rng.integers(0, 10, 8)
    got = distillation_loss(labels, z.astype(np.float32), v.astype(np.float32), T, lam).numpy()
    assert got == pytest.approx(reference(labels, z, v, T, lam), rel=1e-5)


def test_hand_computed_two_class_value():
    # z = (0, 0), v = (ln 3, 0), T = 1: p = (3/4, 1/4), q = (1/2, 1/2); hard CE for label 0 = ln 2.
    # soft CE = -(3/4 ln 1/2 + 1/4 ln 1/2) = ln 2, so with lambda = 2 the loss is 3 ln 2.
    z = np.zeros((1, 2), np.float32)
    v = np.array([[np.log(3.0), 0.0]], np.float32)
    assert distillation_loss([0], z, v, 1.0, 2.0).numpy() == pytest.approx(3 * np.log(2), rel=1e-6)


def test_T_squared_keeps_soft_gradients_at_the_logit_matching_limit():
    # For large T, d(T^2 CE_soft)/dz -> (z - v) / N for zero-mean logits (Hinton et al. eq. 3-4):
    # without the T^2 factor the soft gradients would shrink as 1/T^2.
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 10)).astype(np.float32)
    v = rng.normal(size=(4, 10)).astype(np.float32)
    z, v = z - z.mean(1, keepdims=True), v - v.mean(1, keepdims=True)
    z_var = tf.Variable(z)
    with tf.GradientTape(persistent=True) as tape:
        both = distillation_loss([0, 1, 2, 3], z_var, v, 500.0, 1.0)
        hard = distillation_loss([0, 1, 2, 3], z_var, v, 500.0, 0.0)
    soft_grad = tape.gradient(both, z_var).numpy() - tape.gradient(hard, z_var).numpy()
    expected = (z - v) / 10 / len(z)  # N = 10 classes, mean over 4 examples
    np.testing.assert_allclose(soft_grad, expected, atol=2e-4)


@pytest.mark.parametrize("T", [0.05, 1.0, 1000.0])
def test_finite_at_extreme_logits(T):
    z = tf.Variable(np.array([[1e4, -1e4, 0.0] + [0.0] * 7, [-1e4] * 10], np.float32))
    v = np.array([[-1e4, 1e4, 0.0] + [0.0] * 7, [1e4] + [-1e4] * 9], np.float32)
    with tf.GradientTape() as tape:
        loss = distillation_loss([1, 0], z, v, T, 1.0)
    assert np.isfinite(loss.numpy())
    assert np.all(np.isfinite(tape.gradient(loss, z).numpy()))


@pytest.mark.parametrize("T, lam", [(0.0, 1.0), (-1.0, 1.0), (float("nan"), 1.0), (float("inf"), 1.0),
                                    (1.0, -0.1), (1.0, float("nan")), ("2", 1.0)])
def test_bad_temperature_or_lambda_refused(T, lam):
    with pytest.raises(ValueError, match="temperature|lambda_"):
        distillation_loss([0], np.zeros((1, 10), np.float32), np.zeros((1, 10), np.float32), T, lam)


def test_probabilities_told_from_logits():
    logits = np.random.default_rng(2).normal(size=(8, 10)).astype(np.float32) * 3
    probabilities = tf.nn.softmax(logits).numpy()
    assert are_probabilities(probabilities) and are_probabilities(probabilities.astype(np.float16))
    assert not are_probabilities(logits)
    assert not are_probabilities(tf.nn.log_softmax(logits).numpy())  # log-probabilities are logits
    assert not are_probabilities(np.abs(logits) / np.abs(logits).sum(axis=1, keepdims=True) * 1.1)
    assert not are_probabilities(probabilities[0])  # one row is not a batch of outputs
