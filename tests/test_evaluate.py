import numpy as np

from distiller.evaluate import count_errors, errors_on_class, nll, summary


def test_error_counts_of_known_predictions():
    labels = np.array([3, 3, 3, 1, 2, 0])
    predicted = np.array([3, 5, 1, 3, 2, 0])
    assert count_errors(predicted, labels) == 3
    assert errors_on_class(predicted, labels, 3) == 2  # the 3 predicted as 1 is not counted on 1
    assert errors_on_class(predicted, labels, 1) == 1
    logits = np.eye(10)[predicted]
    assert summary(logits, labels) == {"accuracy": 0.5, "errors": 3, "errors_on_3": 2}


def test_nll_of_known_probabilities():
    # softmax([0, ln 3]) = (1/4, 3/4); softmax([0, 0]) = (1/2, 1/2)
    logits = np.array([[0.0, np.log(3.0)], [0.0, 0.0], [0.0, np.log(3.0)]])
    labels = np.array([1, 0, 0])
    expected = (np.log(4 / 3) + np.log(2) + np.log(4)) / 3
    assert np.isclose(nll(logits, labels), expected, rtol=1e-12)
    # Large logits (a confident net's) neither overflow nor lose the answer: only differences count.
    assert np.isclose(nll(logits + 1000.0, labels), expected, rtol=1e-12)
    assert nll(np.array([[50.0, 0.0]]), np.array([0])) < 1e-20
