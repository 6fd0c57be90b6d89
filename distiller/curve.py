"""A net's validation curve: its validation errors and NLL every few epochs, so that a training's length can be
chosen from one long run (the protocol stage) rather than from one run per candidate length."""

import math
from pathlib import Path

import keras

from distiller import atomic
from distiller.evaluate import count_errors, nll, predictions


class ValidationCurve(keras.callbacks.Callback):
    """Every `every` epochs and at the last, `net`'s validation errors and NLL (the net itself: a Distiller's
    student, not the Distiller). Kept in `path` (a JSON file written whole) when given: a fit resumed after a kill
    keeps the points it made before, and rewrites the ones it makes again."""

    def __init__(self, net, val, every, path=None):
        super().__init__()
        self.net, self.val, self.every, self.path = net, val, every, None if path is None else Path(path)
        self.points = read(self.path)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.params["epochs"]:
            return
        z = self.net.predict(self.val[0], batch_size=8192, verbose=0)
        self.points[str(done)] = {"val_errors": count_errors(predictions(z), self.val[1]),
                                  "val_nll": round(nll(z, self.val[1]), 6)}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_json(self.path, self.points)

    def as_list(self):
        """[(epochs, val_errors, val_nll)] in the order of epochs."""
        return [[int(e), p["val_errors"], p["val_nll"]] for e, p in sorted(self.points.items(), key=lambda i: int(i[0]))]


def read(path):
    """The points kept in `path`; none when there is no file or it is unreadable (they are made again)."""
    return {} if path is None else dict(atomic.read_json(path, {}))


def best_length(points):
    """The epochs of the point of lowest validation NLL (the first on a tie): a run that long is the best of the curve
    when the schedule does not depend on the run's length (optimizers.DropoutPaperSGD)."""
    return min(points, key=lambda p: (p[2] if math.isfinite(p[2]) else math.inf, p[0]))[0]
