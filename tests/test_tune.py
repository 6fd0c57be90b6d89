"""tune.py as a user runs it, on a small subset with an untrained teacher (the search's mechanics)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from distiller import atomic, models

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--train-size", "800", "--val-size", "400", "--epochs", "1", "--no-jit-compile"]  # tiny: XLA would be most of it


def tune(*args, **kwargs):
    return subprocess.run([sys.executable, str(ROOT / "tune.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, check=False, **kwargs)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("saved")
    keras.utils.set_random_seed(0)
    models.teacher().save(out / "teacher.keras")
    return out


def against(folder):
    """The flags of a search against the teacher saved in `folder` (the default is the paper teacher)."""
    return ["--out-dir", str(folder), "--teacher", str(folder / "teacher.keras")]


def completed_trials(folder):
    """The completed trials of a search, which may still be running: keras-tuner writes trial.json in place, so a
    file read while it is being written (empty or cut short; seen in CI under load) is a trial not yet recorded."""
    trials = [atomic.read_json(path, {}) for path in folder.glob("trial_*/trial.json")]
    return [t for t in trials if t.get("status") == "COMPLETED"]


def test_search_writes_report_and_best_json_that_train_py_accepts(teacher_dir, tmp_path):
    done = tune(*against(teacher_dir), "--project-dir", str(tmp_path), "--trials", "3", *SMALL)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path / "search"
    best = json.loads((folder / "best.json").read_text())
    trials = json.loads((folder / "trials.json").read_text())
    assert len(trials) == 3 and best["val_accuracy"] == max(t["val_accuracy"] for t in trials)
    for name in ("report.md", "accuracy_vs_temperature.png", "heatmap.png"):
        assert (folder / name).is_file()
    assert list((folder / "tensorboard").rglob("*tfevents*"))  # TensorBoard / HParams logs

    # In a folder of its own: a teacher saved without a key is never reused, so train.py trains its own.
    train = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--quick", "--out-dir", str(tmp_path / "train"), "--hparams",
         str(folder / "best.json"), "teacher", "students"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert train.returncode == 0, train.stderr[-3000:]
    used = json.loads((tmp_path / "train" / "results.json").read_text())["students"]["config"]
    assert (used["temperature"], used["lambda_"], used["kd_epochs"], used["views"]) == (
        best["temperature"], best["lambda_"], best["epochs"], best["views"])

    # Killed while writing its report: the files written are whole (atomic), a temporary one lies beside them.
    (folder / ".tmp-0badc0de-best.json").write_text('{"temperature": 2')
    (folder / "report.md").unlink()
    done = tune(*against(teacher_dir), "--project-dir", str(tmp_path), "--trials", "3", *SMALL)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads((folder / "best.json").read_text())  # whole; among tied trials it may name another
    assert again["val_accuracy"] == best["val_accuracy"] and (folder / "report.md").is_file()
    assert not list(folder.glob(".tmp-*"))

    # Another teacher: the trials made with the old one are not reused.
    other = tmp_path / "other"
    other.mkdir()
    keras.utils.set_random_seed(1)
    models.teacher().save(other / "teacher.keras")
    done = tune(*against(other), "--project-dir", str(tmp_path), "--trials", "3", *SMALL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "was made from another teacher or model; starting the search afresh" in done.stdout


def test_interrupted_search_resumes_without_redoing_a_trial(teacher_dir, tmp_path):
    command = [sys.executable, str(ROOT / "tune.py"), *against(teacher_dir), "--project-dir",
               str(tmp_path), "--trials", "3", *SMALL]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Killed once a trial is recorded: keras-tuner writes the trial's trial.json, then tuner0.json (the state a
    # new run reloads); killed between the two, a new run starts over (under load, once in CI).
    deadline = time.time() + 300
    while not (completed_trials(tmp_path / "search") and (tmp_path / "search" / "tuner0.json").exists()) \
            and time.time() < deadline:
        time.sleep(0.1)
    process.kill()  # as abrupt as a closed laptop
    process.wait()
    first = {t["trial_id"]: t for t in completed_trials(tmp_path / "search")}
    assert 1 <= len(first) < 3

    done = tune(*against(teacher_dir), "--project-dir", str(tmp_path), "--trials", "3", *SMALL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Reloading Tuner" in done.stdout
    after = {t["trial_id"]: t for t in completed_trials(tmp_path / "search")}
    assert len(after) == 3
    for trial_id, trial in first.items():  # kept as they were, not run again
        assert after[trial_id]["score"] == trial["score"]
        assert f"Running Trial #{int(trial_id) + 1}\n" not in done.stdout


def test_chief_and_two_workers_record_every_trial_once(teacher_dir, tmp_path):
    done = tune(*against(teacher_dir), "--project-dir", str(tmp_path), "--trials", "4", "--workers", "2",
                *SMALL, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = completed_trials(tmp_path / "search")
    assert len(trials) == 4
    assert len({t["trial_id"] for t in trials}) == 4
    values = [tuple(t["hyperparameters"]["values"][k] for k in ("temperature", "lambda_", "views")) for t in trials]
    assert len(set(values)) == 4  # the oracle never handed the same trial to two workers
    assert {p.name for p in (tmp_path / "search").glob("tuner*.json")} == {"tuner0.json", "tuner1.json"}


def test_without_a_paper_teacher_of_its_split_the_search_points_to_make_run(tmp_path):
    # On 800 images, neither this folder nor the committed paper teacher (made on the whole split) will do.
    done = tune("--out-dir", str(tmp_path), "--project-dir", str(tmp_path), *SMALL)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no saved paper teacher made on this search's split" in done.stderr and "make run" in done.stderr


def test_teacher_flag_searches_against_another_saved_teacher(teacher_dir, tmp_path):
    keras.utils.set_random_seed(1)
    models.teacher().save(tmp_path / "paper_teacher.keras")
    empty = tmp_path / "no_default_teacher"
    empty.mkdir()
    done = tune("--out-dir", str(empty), "--teacher", str(tmp_path / "paper_teacher.keras"), "--project-dir",
                str(tmp_path), "--project", "paper", "--trials", "1", *SMALL)
    assert done.returncode == 0, done.stderr[-3000:]  # OUT_DIR/teacher.keras does not exist: the flag was used
    assert "--teacher" in (tmp_path / "paper" / "report.md").read_text()
    assert list((empty / "teacher_logits").glob("*"))  # its logits cached beside the run's other outputs
