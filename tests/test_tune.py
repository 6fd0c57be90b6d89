"""tune's search as a user runs it, on a small subset with an untrained teacher (the search's mechanics): its
command line's main in this process, and `python tune.py --workers 1` in processes of their own."""

import dataclasses
import json
import os
import signal
import subprocess
import sys

import keras
import pytest

from distiller import atomic, cli, errors, models, tune_cli, tuning
from distiller.config import Config
from tests.conftest import ROOT

SMALL = ["--train-size", "800", "--val-size", "400", "--epochs", "1", "--no-jit-compile"]  # tiny: XLA would be most of it


@pytest.fixture
def tune(capsys, monkeypatch):
    """tune(*flags) -> (exit status, stdout, stderr) of `python tune.py FLAGS` run in this process (its main, with
    its sys.argv: the report names that command); the signal handlers it sets, and a signal it remembered, are
    undone after each run."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    def run(*flags):
        monkeypatch.setattr(sys, "argv", ["tune.py", *map(str, flags)])
        try:
            tune_cli.main()
            status = 0
        except SystemExit as e:
            status = e.code
        finally:
            signal.signal(signal.SIGINT, before[0])
            signal.signal(signal.SIGTERM, before[1])
            errors._received.clear()
        out, err = capsys.readouterr()
        if isinstance(status, str):  # sys.exit("error: ..."): Python prints it on stderr and exits with 1
            status, err = 1, err + status
        return status, out, err

    return run


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("saved")
    keras.utils.set_random_seed(0)
    models.teacher().save(out / "teacher.keras")
    return out


def against(folder):
    """The flags of a search against the teacher saved in `folder` (the default is the paper teacher)."""
    return ["--out-dir", folder, "--teacher", folder / "teacher.keras"]


def completed_trials(folder):
    """The completed trials of a search, which may still be running: keras-tuner writes trial.json in place, so a
    file read while it is being written (empty or cut short) is a trial not yet recorded."""
    trials = [atomic.read_json(path, {}) for path in folder.glob("trial_*/trial.json")]
    return [t for t in trials if t.get("status") == "COMPLETED"]


def test_search_writes_report_and_best_json_that_train_py_accepts(teacher_dir, tmp_path, tune):
    status, _, err = tune(*against(teacher_dir), "--project-dir", tmp_path, "--trials", "2", *SMALL)
    assert status == 0, err[-3000:]
    folder = tmp_path / "search"
    best = json.loads((folder / "best.json").read_text())
    trials = json.loads((folder / "trials.json").read_text())
    assert len(trials) == 2 and best["val_accuracy"] == max(t["val_accuracy"] for t in trials)
    for name in ("report.md", "accuracy_vs_temperature.png", "heatmap.png"):
        assert (folder / name).is_file()
    assert list((folder / "tensorboard").rglob("*tfevents*"))  # TensorBoard / HParams logs
    config, _ = cli.parse_args(["--hparams", str(folder / "best.json")])  # train.py --hparams
    assert (config.temperature, config.lambda_, config.kd_epochs, config.views) == (
        best["temperature"], best["lambda_"], best["epochs"], best["views"])

    # Killed while writing its report: the files written are whole (atomic), a temporary one lies beside them.
    (folder / ".tmp-0badc0de-best.json").write_text('{"temperature": 2')
    (folder / "report.md").unlink()
    status, out, err = tune(*against(teacher_dir), "--project-dir", tmp_path, "--trials", "2", *SMALL)
    assert status == 0, err[-3000:]
    assert "Running Trial" not in out  # both trials were done
    again = json.loads((folder / "best.json").read_text())  # whole; among tied trials it may name another
    assert again["val_accuracy"] == best["val_accuracy"] and (folder / "report.md").is_file()
    assert not list(folder.glob(".tmp-*"))

    # Another teacher: the trials made with the old one are not reused.
    other = tmp_path / "other"
    other.mkdir()
    keras.utils.set_random_seed(1)
    models.teacher().save(other / "teacher.keras")
    status, out, err = tune(*against(other), "--project-dir", tmp_path, "--trials", "1", *SMALL)
    assert status == 0, err[-3000:]
    assert "was made from another teacher or model; starting the search afresh" in out


class CtrlC(keras.callbacks.Callback):
    """Ctrl-C as a fit starts: tune's handler holds it back to the fit's first safe point (errors.deferred)."""

    def on_train_begin(self, logs=None):
        os.kill(os.getpid(), signal.SIGINT)


def test_interrupted_search_resumes_without_redoing_a_trial(teacher_dir, tmp_path, tune, monkeypatch):
    fit, started = tuning.DistillationHyperModel.fit, []

    def ctrl_c_in_the_second_trial(self, hp, model, x, y, batch_size, callbacks=(), **kwargs):
        started.append(hp.values)
        extra = [CtrlC()] if len(started) == 2 else []
        return fit(self, hp, model, x, y, batch_size, callbacks=[*extra, *callbacks], **kwargs)

    monkeypatch.setattr(tuning.DistillationHyperModel, "fit", ctrl_c_in_the_second_trial)
    flags = [*against(teacher_dir), "--project-dir", tmp_path, "--trials", "2", *SMALL]
    status, _, err = tune(*flags)
    assert status == 130 and "run the same command to resume" in err
    first = {t["trial_id"]: t for t in completed_trials(tmp_path / "search")}
    assert len(first) == 1  # keras-tuner wrote nothing more on the way out: what a kill at that step leaves

    monkeypatch.undo()
    status, out, err = tune(*flags)
    assert status == 0, err[-3000:]
    assert "Reloading Tuner" in out
    after = {t["trial_id"]: t for t in completed_trials(tmp_path / "search")}
    assert len(after) == 2
    for trial_id, trial in first.items():  # kept as they were, not run again
        assert after[trial_id]["score"] == trial["score"]
        assert f"Running Trial #{int(trial_id) + 1}\n" not in out


def test_a_chief_and_a_worker_started_by_tune_py_run_every_trial_once(teacher_dir, tmp_path):
    """One worker and two trials: what is ours, the launch (the chief and the worker start as `python -m
    distiller tune` with this checkout's package, even from another folder and off the path) and the report
    written after them. That the chief never hands one trial to two workers is keras-tuner's oracle's part."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(ROOT / "tune.py"), *map(str, against(teacher_dir)), "--project-dir",
                           str(tmp_path), "--trials", "2", "--workers", "1", *SMALL], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = completed_trials(tmp_path / "search")
    assert len(trials) == 2 and len({t["trial_id"] for t in trials}) == 2
    assert {p.name for p in (tmp_path / "search").glob("tuner*.json")} == {"tuner0.json"}
    best = json.loads((tmp_path / "search" / "best.json").read_text())
    assert best["val_accuracy"] == max(t["score"] for t in trials)


def test_without_a_paper_teacher_of_its_split_the_search_points_to_make_run(tmp_path, tune):
    # On 800 images, neither this folder nor the committed paper teacher (made on the whole split) will do.
    status, _, err = tune("--out-dir", tmp_path, "--project-dir", tmp_path, *SMALL)
    assert status == 1
    assert "no saved paper teacher made on this search's split" in err and "make run" in err


def test_teacher_flag_searches_against_another_saved_teacher(tmp_path, tune):
    keras.utils.set_random_seed(1)
    models.teacher().save(tmp_path / "paper_teacher.keras")
    empty = tmp_path / "no_default_teacher"
    empty.mkdir()
    status, _, err = tune("--out-dir", empty, "--teacher", tmp_path / "paper_teacher.keras", "--project-dir", tmp_path,
                          "--project", "paper", "--trials", "1", *SMALL)
    assert status == 0, err[-3000:]  # OUT_DIR/teacher.keras does not exist: the flag was used
    assert "--teacher" in (tmp_path / "paper" / "report.md").read_text()
    assert list((empty / "teacher_logits").glob("*"))  # its logits cached beside the run's other outputs


def test_flags_named_after_config_fields_set_them_and_the_rest_are_configs_defaults():
    assert tune_cli.config_from(tune_cli.parse_args([])) == Config()
    args = tune_cli.parse_args(["--epochs", "7", "--views", "fixed", "--train-size", "800", "--no-jit-compile"])
    assert tune_cli.config_from(args) == dataclasses.replace(Config(), epochs=7, train_size=800, jit_compile=False)
    assert args.searched_views == "fixed"  # the views searched; Student2.0's (Config.views) are not the search's
    assert set(tune_cli.TUNERS) == set(tuning.TUNERS)
    assert tune_cli.argv_without_workers(["--workers", "2", "--trials", "3", "--workers=4", "--seed", "1"]) == [
        "--trials", "3", "--seed", "1"]
