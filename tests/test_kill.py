"""Fault injection: train.py interrupted at several points, run again each time, ends as if never interrupted.

The runs are train.py's `main` in this process (conftest's train_here), with its own signal handlers, interrupted
at the start of an epoch by a signal to this process (or an exception standing for a kill -9); one real process
is sent SIGTERM."""

import dataclasses
import json
import os
import signal
import subprocess
import sys

import keras
import keras_tuner
import numpy as np
import pytest

from distiller import errors, models, resume, training, tuning
from distiller.config import Config
from distiller.progress import ProgressBar
from tests.conftest import ROOT, tiny_splits, train_here

STAGES = ("teacher", "students", "class3")
MODELS = ("teacher", "paper_teacher", "student", "student_kd_teacher", "student_jitter", "student_kd",
          "student_kd_minus3", "student_kd_minus3_shifted")


class Killed(BaseException):
    """Stands for a kill -9: no handler sees it (main catches KeyboardInterrupt and DistillerError only)."""


BEGIN = resume.Backup.on_epoch_begin


def at_epoch_start(monkeypatch, where, act):
    """act() when a fit starts the epoch `where` names, as the interrupt message does (errors.where(): " during
    epoch 2 of 2 of the Teacher"): Backup, the callback of every backed-up fit, sets it at each epoch's start.
    Replaces the previous run's act."""

    def on_epoch_begin(self, epoch, logs=None):
        BEGIN(self, epoch, logs)
        if errors.where() == where:
            act()

    monkeypatch.setattr(resume.Backup, "on_epoch_begin", on_epoch_begin)


def signal_self(signum):
    return lambda: os.kill(os.getpid(), signum)


def kill():
    raise Killed


def without_seconds(value):
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    return value


def same_results(out, reference, stages):
    expected, got = (json.loads((folder / "results.json").read_text()) for folder in (reference, out))
    for stage in stages:
        assert without_seconds(got[stage]["result"]) == without_seconds(expected[stage]["result"]), stage


@pytest.fixture
def handlers():
    """train.py's signal handlers in this process, and the default ones back after the test."""
    from distiller import errors

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    errors.raise_on_signals()
    yield errors
    signal.signal(signal.SIGINT, before[0])
    signal.signal(signal.SIGTERM, before[1])
    errors._received.clear()
    errors.now["training"] = None


def test_interrupted_three_times_the_run_ends_with_the_uninterrupted_numbers(quick_run, tmp_path, monkeypatch):
    out = tmp_path / "out"
    at_epoch_start(monkeypatch, " during epoch 2 of 2 of the Teacher", kill)
    with pytest.raises(Killed):
        train_here("--quick", "--out-dir", str(out))
    assert (out / "backups" / "teacher" / "state.json").is_file()

    at_epoch_start(monkeypatch, " during epoch 2 of 2 of the Student2.0 (seed 0)", signal_self(signal.SIGTERM))
    done = train_here("--quick", "--out-dir", str(out))
    assert done.returncode == 143 and "Teacher: resuming at epoch 2 of 2" in done.stdout, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == ("interrupted during epoch 2 of 2 of the Student2.0 (seed 0); "
                                                    "run the same command to resume")

    at_epoch_start(monkeypatch, " during epoch 2 of 2 of the Student2.0(-3)", signal_self(signal.SIGINT))
    done = train_here("--quick", "--out-dir", str(out))
    assert done.returncode == 130, done.stderr[-3000:]
    assert "students: 3 units done by an interrupted run, skipping them" in done.stdout
    assert "Student2.0 (seed 0): resuming at epoch 2 of 2" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == ("interrupted during epoch 2 of 2 of the Student2.0(-3); "
                                                    "run the same command to resume")
    # What a kill in the middle of a save leaves (the save itself is tested in test_atomic.py).
    (out / ".tmp-0badc0de-student_kd_minus3_shifted.keras").write_bytes(b"PK\x03\x04 what a kill mid-save leaves")

    monkeypatch.setattr(resume.Backup, "on_epoch_begin", BEGIN)  # uninterrupted
    done = train_here("--quick", "--out-dir", str(out))
    assert done.returncode == 0 and "Student2.0(-3): resuming at epoch 2 of 2" in done.stdout, done.stderr[-3000:]
    same_results(out, quick_run[0], STAGES)
    for name in MODELS:
        models.load(out / f"{name}.keras")
    assert not list(out.rglob(".tmp-*"))
    assert not (out / "backups").exists() and not (out / "progress").exists()


def test_a_sigterm_to_train_py_exits_143_in_one_line_and_the_rerun_resumes(quick_run, tmp_path):
    out, stderr = tmp_path / "out", tmp_path / "stderr"
    with open(stderr, "w") as err:
        process = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--quick", "--out-dir", str(out)],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        seen, waiting = [], ["Teacher: training", "Epoch 2/2"]
        for line in process.stdout:
            seen.append(line)
            if waiting and waiting[0] in line:
                waiting.pop(0)
                if not waiting:
                    process.send_signal(signal.SIGTERM)
        process.wait(timeout=600)
    assert not waiting, f"never saw {waiting[0]!r} in:\n{''.join(seen)[-3000:]}"
    err = stderr.read_text()
    assert process.returncode == 143 and "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == "interrupted during epoch 2 of 2 of the Teacher; run the same command to resume"
    assert (out / "backups" / "teacher" / "state.json").is_file()

    done = train_here("--quick", "--out-dir", str(out), "teacher")  # the rerun: in this process, a start-up the less
    assert done.returncode == 0 and "Teacher: resuming at epoch 2 of 2" in done.stdout, done.stderr[-3000:]
    same_results(out, quick_run[0], ["teacher"])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowing, on purpose
def test_a_ctrl_c_swallowed_by_a_finalizer_is_raised_again(handlers):
    class Finalized:
        def __del__(self):  # Ctrl-C while a finalizer runs: Python prints "Exception ignored" and goes on
            os.kill(os.getpid(), signal.SIGINT)

    handlers.raise_if_interrupted()  # nothing yet
    Finalized()
    with pytest.raises(KeyboardInterrupt):
        handlers.raise_if_interrupted()  # at the next safe point (a step, a unit, a stage)


def test_in_a_deferred_block_the_first_ctrl_c_waits_for_a_safe_point_and_a_second_one_does_not(handlers):
    with pytest.raises(KeyboardInterrupt):
        with handlers.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            reached = True  # the handler ran, and raised nothing
        pytest.fail("the end of the block is a safe point")
    assert reached

    handlers._received.clear()
    with pytest.raises(KeyboardInterrupt), handlers.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        reached_again = True
        os.kill(os.getpid(), signal.SIGINT)  # the user insists: raised at once
        pytest.fail("a second Ctrl-C must not wait")
    assert reached_again


class CtrlCAtStep2(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            os.kill(os.getpid(), signal.SIGINT)


def fit_of_train_py(config, data):
    model = models.student()
    training.train_on_labels(model, data.train, data.val, config, verbose=0, callbacks=[CtrlCAtStep2()])
    return model


def fit_of_a_trial(config, data):
    hypermodel = tuning.DistillationHyperModel(config, len(data.train[0]))
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    x = {"pixels": data.train[0], "teacher_logits": np.zeros((len(data.train[0]), 10), np.float32)}
    hypermodel.fit(hp, model, x, data.train[1], batch_size=config.batch_size, epochs=1, verbose=0,
                   callbacks=[CtrlCAtStep2(), ProgressBar()])
    return model


@pytest.mark.parametrize("fit", [fit_of_train_py, fit_of_a_trial])
def test_a_ctrl_c_during_a_fit_stops_it_after_the_step_not_inside_tensorflow(handlers, fit):
    config = dataclasses.replace(Config(), epochs=1, steps_per_execution=1, jit_compile=False)
    with pytest.raises(KeyboardInterrupt) as raised:
        fit(config, tiny_splits())
    where = [(entry.frame.code.name, entry.path.name) for entry in raised.traceback]
    assert where[-2:] == [("on_train_batch_end", "progress.py"), ("raise_if_interrupted", "errors.py")]
