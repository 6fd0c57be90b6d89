"""Fault injection: train.py killed at several points, run again each time, ends as if never killed."""

import json
import os
import signal
import subprocess
import sys

import pytest

from distiller import models
from tests.conftest import ROOT

STAGES = ("teacher", "students", "class3", "small_transfer")
MODELS = ("teacher", "student", "student_kd", "student_kd_minus3", "student_kd_minus3_shifted")


def run_until(out, triggers, sig, tmp_path):
    """Start `train.py --quick`; once the lines containing `triggers` have appeared in that order, send `sig`.
    Returns (exit status, stdout, stderr)."""
    stderr = tmp_path / f"stderr-{len(list(tmp_path.glob('stderr-*')))}"
    with open(stderr, "w") as err:
        process = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--quick", "--out-dir", str(out)],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        seen, waiting = [], list(triggers)
        for line in process.stdout:
            seen.append(line)
            if waiting and waiting[0] in line:
                waiting.pop(0)
                if not waiting:
                    process.send_signal(sig)
        process.wait(timeout=600)
    assert not waiting, f"never saw {waiting[0]!r} in:\n{''.join(seen)[-3000:]}"
    return process.returncode, "".join(seen), stderr.read_text()


def without_seconds(value):
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    return value


def test_killed_three_times_the_run_ends_with_the_uninterrupted_numbers(quick_run, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_until(out, ["Teacher: training", "Epoch 2/2"], signal.SIGTERM, tmp_path)
    assert code == 143 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "interrupted during epoch 2 of 2 of the Teacher; run the same command to resume"
    assert (out / "backups" / "teacher" / "state.json").is_file()

    code, _, _ = run_until(out, ["Teacher: resuming at epoch 2 of 2", "Student2.0 (seed 0)", "Epoch 2/2"],
                           signal.SIGKILL, tmp_path)
    assert code == -signal.SIGKILL

    code, _, err = run_until(out, ["students: 1 units done by an interrupted run, skipping them",
                                   "Student2.0 (seed 0): resuming at epoch 2 of 2", "Student2.0(-3)", "Epoch 2/2"],
                             signal.SIGINT, tmp_path)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted during epoch 2 of 2 of the Student2.0(-3)")
    # What a kill in the middle of a save leaves (the save itself is tested in test_atomic.py).
    (out / ".tmp-0badc0de-student_kd_minus3_shifted.keras").write_bytes(b"PK\x03\x04 what a kill mid-save leaves")

    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--quick", "--out-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    reference, _ = quick_run
    expected, got = (json.loads((folder / "results.json").read_text()) for folder in (reference, out))
    for stage in STAGES:
        assert without_seconds(got[stage]["result"]) == without_seconds(expected[stage]["result"]), stage
    for name in MODELS:
        models.load(out / f"{name}.keras")
    assert not list(out.rglob(".tmp-*"))
    assert not (out / "backups").exists() and not (out / "progress").exists()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowing, on purpose
def test_a_ctrl_c_swallowed_by_a_finalizer_is_raised_again():
    from distiller import errors

    class Finalized:
        def __del__(self):  # Ctrl-C while a finalizer runs: Python prints "Exception ignored" and goes on
            os.kill(os.getpid(), signal.SIGINT)

    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        errors.raise_on_signals()
        errors.raise_if_interrupted()  # nothing yet
        Finalized()
        with pytest.raises(KeyboardInterrupt):
            errors.raise_if_interrupted()  # at the next safe point (a step, a unit, a stage)
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
        errors._received.clear()
