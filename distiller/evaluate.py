"""Counting mistakes, the paper's unit: test errors overall and on one class."""

import numpy as np


def predictions(logits):
    return np.argmax(logits, axis=-1)


def count_errors(predicted, labels):
    return int(np.sum(predicted != labels))


def errors_on_class(predicted, labels, digit):
    """Mistakes on the examples whose true label is `digit`."""
    mask = labels == digit
    return int(np.sum(predicted[mask] != digit))


def nll(logits, labels):
    """The mean negative log-probability of the true labels, in nats (the cross-entropy): a finer score than
    the error count, for every image counts, not only the few dozen of 5,000 a good teacher gets wrong."""
    return float(nll_per_image(logits, labels).mean())


def nll_per_image(logits, labels):
    """-log p of each image's true label (nll is their mean)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)  # the same softmax, without overflow
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


def mean_std(values):
    """Mean and sample standard deviation (0 for a single value) of error counts over seeds."""
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0}


def summary(logits, labels, digit=3):
    predicted = predictions(logits)
    errors = count_errors(predicted, labels)
    return {
        "accuracy": 1.0 - errors / len(labels),
        "errors": errors,
        f"errors_on_{digit}": errors_on_class(predicted, labels, digit),
    }
