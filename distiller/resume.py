"""Runs that survive a kill: per-model backups, finished units of a sweep, one run per output folder.

- `Backup`: a callback that backs a fit up every epoch, atomically, with the random state of dropout
  and jitter, and resumes it through fit(initial_epoch=), so that a resumed fit ends with the same
  weights as an uninterrupted one.
- `Units`: a sweep's finished units (one student of one seed, width, T...), recorded as each
  finishes, so that the same command run again skips them.
- `exclusive`: a lock on the output folder; the OS drops it when its process dies.
"""

import contextlib
import fcntl
import json
import math
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from distiller import atomic, errors
from distiller.errors import DistillerError, raise_if_interrupted

BACKUPS, PROGRESS, LOCK = "backups", "progress", ".lock"


def random_state(model):
    """The random streams of a model's layers (dropout, jitter), saved with the backup: the variables that Keras
    lists in `model.variables` (each SeedGenerator's state) but not in `model.weights`."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class Backup(keras.callbacks.Callback):
    """A fit's backup in `folder`, written at the end of every epoch; resumed by passing `initial_epoch()` to
    fit(initial_epoch=) and this callback in `callbacks=`.

    Each epoch's weights (the model's and the optimizer's) go to a new file, then one atomic state.json names it
    with the epoch, the layers' random state and `fingerprint` (the settings the model trains with): a kill at any
    moment leaves the last whole epoch. A backup of other settings, or unreadable, is set aside, never resumed. The
    folder outlives fit; the caller removes it once the model or its result is saved.
    """

    def __init__(self, folder, name, fingerprint, log=print):
        super().__init__()
        self.folder, self.name, self.fingerprint, self.log = Path(folder), name, fingerprint, log
        self.state_path = self.folder / "state.json"
        self.state = None  # the backup fit resumes from (initial_epoch)
        self.earlier_seconds = 0.0  # training seconds before the kill, when resumed

    def initial_epoch(self):
        """The epoch fit starts at: the backup's, else 0. Call it before fit; the backup's weights and random
        state are restored when fit begins (on_train_begin), once fit has made the model's optimizer."""
        self.state = self.read_state()
        self.earlier_seconds = self.state["seconds"] if self.state else 0.0
        return self.state["epoch"] if self.state else 0

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        if self.state is not None:
            self.restore(self.state)

    def on_epoch_begin(self, epoch, logs=None):
        errors.now["training"] = f"epoch {epoch + 1} of {self.params['epochs']} of the {self.name}"

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1)

    def on_train_end(self, logs=None):
        errors.now["training"] = None

    def restore(self, state):
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # as its first step would: its moments load
        try:
            self.model.load_weights(self.folder / state["weights"])
            for variable, value in zip(random_state(self.model), state["seed_states"], strict=True):
                variable.assign(value)
        except Exception as e:  # noqa: BLE001 -- h5py and Keras raise many types for a damaged file
            raise DistillerError(f"the backup in {self.folder} is damaged ({type(e).__name__}: {e}); "
                                 "delete that folder to train this model from its start") from None
        epochs = self.params["epochs"]
        self.log(f"{self.name}: resuming at epoch {state['epoch'] + 1} of {epochs}" if state["epoch"] < epochs else
                 f"{self.name}: its {epochs} epochs were done before the interruption; restoring it from the backup")

    def read_state(self):
        """The backup's state, or None when there is none usable (set aside with a note)."""
        if not self.state_path.exists():
            return None
        try:
            state = json.loads(self.state_path.read_text())
            if state["fingerprint"] == self.fingerprint:
                return state
            reason = "it was made with other settings"
        except (OSError, ValueError, KeyError, TypeError) as e:
            reason = f"it is unreadable ({type(e).__name__})"
        self.log(f"{self.name}: not resuming from {self.folder}: {reason}; training from the start")
        shutil.rmtree(self.folder, ignore_errors=True)
        return None

    def save(self, epochs_done):
        weights = f"epoch-{epochs_done}.weights.h5"
        self.folder.mkdir(parents=True, exist_ok=True)
        variables = [*self.model.weights, *(self.model.optimizer.variables if self.model.optimizer else [])]
        atomic.ensure_space(self.folder / weights, sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize
                                                       for v in variables) + 2**20)
        with atomic.replacing(self.folder / weights) as temp:
            self.model.save_weights(temp)
        state = {"epoch": epochs_done, "weights": weights, "fingerprint": self.fingerprint,
                 "seed_states": [keras.ops.convert_to_numpy(v).tolist() for v in random_state(self.model)],
                 "seconds": self.earlier_seconds + time.perf_counter() - self.started}
        atomic.write_json(self.state_path, state)  # the commit point: from here on the new epoch counts
        for old in self.folder.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink(missing_ok=True)


class Units:
    """The finished units of one stage of `out`, kept in out/progress/<stage>.json until the stage's section of
    results.json is written (`finish`). A unit's key names everything that decides its result, so changed settings
    never reuse it. With keep=True (stages of hours) the record outlives the stage: a later run with more seeds,
    widths or epochs trains only the units it has not seen. `shows`: the field of a unit's result its progress line
    shows ("errors", test errors; "val_errors", for a stage whose choices are not made yet)."""

    def __init__(self, out, stage, log=print, keep=False, shows="errors"):
        self.out, self.stage, self.log, self.keep, self.shows = Path(out), stage, log, keep, shows
        self.path = self.out / PROGRESS / f"{stage}.json"
        self.done = atomic.read_json(self.path, None) if self.path.exists() else {}
        if not isinstance(self.done, dict):
            self.log(f"{stage}: {self.path} is unreadable; running every unit again")
            self.done = {}
        if self.done and keep:
            self.log(f"{stage}: {len(self.done)} units done by earlier runs, reusing them "
                     f"(delete {self.path} to train them again)")
        elif self.done:
            self.log(f"{stage}: {len(self.done)} units done by an interrupted run, skipping them")
        self.total, self.seconds = None, 0.0  # for the line after each unit: the count, this run's time
        self.whole_seconds = 0.0  # the trained units' whole training times, for the time left (see run)
        self.reached = {}  # this run's units, done or reused, and their work: kept units of other settings are not
        self.work = {"total": None, "trained": 0.0}  # what the units cost, for the time left

    def expect(self, total, work=None):
        """The number of units of the stage, for the progress line printed after each one; `work`: what they all
        cost (in the units of run's `work`) when they differ (epochs x parameters), else each counts 1."""
        self.total, self.work["total"] = total, total if work is None else work

    def backup_dir(self, key):
        return self.out / BACKUPS / self.stage / key

    def run(self, key, train, label=None, work=1):
        """train(backup_dir) -> a JSON-able result, unless the unit `key` is done already. `label` names the
        unit in the progress line (default: the key); `work`, what it costs (see expect)."""
        raise_if_interrupted()
        self.reached.setdefault(key, work)
        if key in self.done:
            return self.done[key]
        started = time.perf_counter()
        result = train(self.backup_dir(key))
        self.done[key] = result
        atomic.write_json(self.path, self.done)
        shutil.rmtree(self.backup_dir(key), ignore_errors=True)
        took = time.perf_counter() - started
        self.seconds += took
        # A unit resumed from its backup took this run only its last epochs: its whole time (a record's "seconds",
        # the part before the kill included) is what its work cost.
        whole = result.get("seconds") if isinstance(result, dict) else None
        self.whole_seconds += whole if isinstance(whole, (int, float)) and whole >= took else took
        self.work["trained"] += work
        errors = result if isinstance(result, int) else result.get(self.shows) if isinstance(result, dict) else None
        self.log(self.progress_line(label or key, took, errors))
        return result

    def progress_line(self, label, took, errors=None):
        """e.g. "widths: 5 of 66 units done (Student 30-30 plain (seed 1): 412 test errors, 53 s); 4 min 20 s so
        far, about 16 min left": the time left is this run's time per unit of work times the work left."""
        count = f"{len(self.reached)} of {self.total}" if self.total else f"{len(self.reached)}"
        kind = "validation errors" if self.shows == "val_errors" else "test errors"
        outcome = "" if errors is None else f": {errors} {kind}"
        line = (f"{self.stage}: {count} units done ({label}{outcome}, {duration(took)}); "
                f"{duration(self.seconds)} so far")
        if self.total:
            left = max(self.work["total"] - sum(self.reached.values()), 0) * self.whole_seconds / self.work["trained"]
            line += f", about {duration(left)} left" if left else ", all done"
        return line

    def finish(self):
        if not self.keep:
            self.path.unlink(missing_ok=True)
        shutil.rmtree(self.out / BACKUPS / self.stage, ignore_errors=True)


class Unrecorded:
    """Units that are not recorded (a direct call, a test): every unit runs, nothing is backed up."""

    def run(self, key, train, label=None, work=1):
        return train(None)

    def expect(self, total, work=None):
        pass

    def backup_dir(self, key):
        return None


UNRECORDED = Unrecorded()


def tidy(out):
    """Remove out/backups and out/progress once every backup and record in them is gone."""
    for name in (BACKUPS, PROGRESS):
        with contextlib.suppress(OSError):  # not empty (a model of a stage that did not run), or absent
            (Path(out) / name).rmdir()


def duration(seconds):
    """53 s, 4 min 20 s, 1 h 5 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@contextlib.contextmanager
def exclusive(out):
    """Hold out/.lock for this run: a second run on the same folder stops at once, naming the PID."""
    path = Path(out) / LOCK
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise DistillerError(f"another run (PID {holder}) is using {out}/; wait for it to end, "
                                 "or give this one another --out-dir") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield
