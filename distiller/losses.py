"""Hinton et al.'s objective: CE(labels, softmax(z)) + lambda * T^2 * CE(softmax(v/T), softmax(z/T)).

Written with log-softmax, so it stays finite for logits up to +-1e4 and T from 0.05 to 1000.
"""

import math

import numpy as np
import tensorflow as tf


def check_hyperparameters(temperature, lambda_):
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if not (isinstance(lambda_, (int, float)) and math.isfinite(lambda_) and lambda_ >= 0):
        raise ValueError(f"lambda_ must be a finite number >= 0, got {lambda_!r}")


def hard_target_loss(labels, student_logits):
    """Per-example CE between integer labels and softmax(z)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(labels, tf.int32), student_logits)


def soft_target_loss(teacher_logits, student_logits, temperature):
    """Per-example CE(softmax(v/T), softmax(z/T)), without the T^2 factor."""
    soft_targets = tf.nn.softmax(teacher_logits / temperature)
    return -tf.reduce_sum(soft_targets * tf.nn.log_softmax(student_logits / temperature), axis=-1)


def per_example_losses(labels, student_logits, teacher_logits, temperature, lambda_):
    """Per-example (total, hard CE, T^2 * soft CE); T^2 keeps the soft gradients' scale independent of T."""
    hard = hard_target_loss(labels, student_logits)
    soft = temperature**2 * soft_target_loss(teacher_logits, student_logits, temperature)
    return hard + lambda_ * soft, hard, soft


def distillation_loss(labels, student_logits, teacher_logits, temperature, lambda_):
    """Batch mean of the combined objective."""
    check_hyperparameters(temperature, lambda_)
    return tf.reduce_mean(per_example_losses(labels, student_logits, teacher_logits, temperature, lambda_)[0])


def are_probabilities(outputs, atol=1e-2):
    """Whether every row of a model's outputs is non-negative and sums to 1 (as a softmax's do, in float16 too):
    probabilities, which the objective must not take for logits. Logits almost never pass on random inputs."""
    outputs = np.asarray(outputs, np.float64)
    return outputs.ndim >= 2 and bool(np.all(outputs >= 0) and np.allclose(outputs.sum(axis=-1), 1.0, atol=atol))
