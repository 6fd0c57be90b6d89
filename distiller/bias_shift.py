"""The mechanics of Hinton et al. section 3: a transfer set without one digit, and one output's bias raised.

The student never sees a 3 but learns about 3s from the teacher's soft targets on other digits;
most of its remaining mistakes on 3s come from the 3-logit being too low, which one bias fixes.
The class3 stage (distiller/stages/class3.py) runs the experiment; digits78 reuses shift_bias.
"""

import keras
import numpy as np

from distiller.evaluate import count_errors, errors_on_class, predictions, summary
from distiller.models import logits

DIGIT = 3


def transfer_set_without(x, y, digit=DIGIT):
    """The examples whose label is not `digit`, and the mask that picked them."""
    keep = y != digit
    return (x[keep], y[keep]), keep


def bias_curve(val_logits, val_labels, shifts, digit=DIGIT):
    """Validation errors on `digit` and on the other classes for each shift b of its output bias.

    Adding b to the bias of one output adds b to that logit, so the curve needs no new forward pass.
    """
    on_digit, on_others = [], []
    others = val_labels != digit
    for b in shifts:
        predicted = predictions(val_logits + b * np.eye(val_logits.shape[1])[digit])
        on_digit.append(errors_on_class(predicted, val_labels, digit))
        on_others.append(count_errors(predicted[others], val_labels[others]))
    return {"bias": [float(b) for b in shifts], "errors_on_digit": on_digit, "errors_on_others": on_others}


# The two rules for b, both reported whichever one --bias-tolerance picks: the assignment's ("raise the bias so that
# it does not misclassify other classes": no validation error added on another digit) and the fewest validation
# errors.
RULES = {"assignment": 0, "fewest": None}


def rule_name(tolerance):
    return "fewest validation errors" if tolerance is None else (
        f"largest b adding <= {tolerance} validation errors on other classes")


def shifts(config):
    """The grid of b: 0, config.bias_step, ..., config.bias_max."""
    return np.arange(0.0, config.bias_max + config.bias_step / 2, config.bias_step)


def choose_bias(curve, tolerance=None):
    """The rule for b, from validation data only.

    tolerance None: the b with the fewest validation errors overall (the smallest such b).
    tolerance k: the largest b whose errors on the other classes exceed those at b=0 by at most k
    (k=0 is the assignment's literal "without making other classes wrong").
    """
    bias, on_digit, on_others = (np.array(curve[k]) for k in ("bias", "errors_on_digit", "errors_on_others"))
    if tolerance is None:
        return float(bias[np.argmin(on_digit + on_others)])
    allowed = np.flatnonzero(on_others - on_others[0] <= tolerance)
    return float(bias[allowed.max()])


def shift_bias(model, b, digit=DIGIT):
    """A copy of `model` whose `logits` layer has b added to the bias of output `digit`, and nothing else."""
    shifted = keras.models.clone_model(model)
    shifted.set_weights(model.get_weights())
    bias = shifted.get_layer("logits").bias
    values = bias.numpy()
    values[digit] += b
    bias.assign(values)
    return shifted


def under_both_rules(model, curve, test, digit=DIGIT):
    """For each rule of RULES: its b on the validation `curve`, and the test record (evaluate.summary) of `model`
    with b added to the bias of output `digit`."""
    result = {}
    for name, tolerance in RULES.items():
        b = choose_bias(curve, tolerance)
        result[name] = {"bias": b, "rule": rule_name(tolerance),
                        **summary(logits(shift_bias(model, b, digit), test[0]), test[1], digit)}
    return result
