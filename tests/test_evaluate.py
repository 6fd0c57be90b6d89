import numpy as np

from distiller.evaluate import count_errors, errors_on_class, summary


def test_error_counts_of_known_predictions():
    labels = np.array([3, 3, 3, 1, 2, 0])
    predicted = np.array([3, 5, 1, 3, 2, 0])
    assert count_errors(predicted, labels) == 3
    assert errors_on_class(predicted, labels, 3) == 2  # the 3 predicted as 1 is not counted on 1
    assert errors_on_class(predicted, labels, 1) == 1
    logits = np.eye(10)[predicted]
    assert summary(logits, labels) == {"accuracy": 0.5, "errors": 3, "errors_on_3": 2}
