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
