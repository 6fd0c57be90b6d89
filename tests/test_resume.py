"""A killed training resumes to the same weights; finished units are skipped; one run per folder."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from distiller import errors, models, resume
from distiller.config import Config
from distiller.errors import DistillerError
from distiller.training import distil, train_on_labels
from tests.conftest import tiny_splits

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Config(epochs=4, batch_size=64, steps_per_execution=2, jit_compile=False)  # XLA: the end-to-end kill test
QUIET = {"verbose": 0}


class KillAt(keras.callbacks.Callback):
    """Stands for a kill: stops the process's fit at the start of epoch `epoch` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def fresh(build):
    keras.utils.set_random_seed(0)
    return build()


def small_paper_teacher():  # jitter and dropout: random state that a resume must carry over
    return models.paper_teacher(hidden_units=(32, 32))


@pytest.mark.parametrize("build", [lambda: models.mlp((32, 32), "plain"), small_paper_teacher])
def test_a_killed_fit_resumes_to_the_same_weights(build, tmp_path):
    data, messages = tiny_splits(), []
    whole = fresh(build)
    train_on_labels(whole, data.train, data.val, CONFIG, **QUIET)

    killed = fresh(build)
    with pytest.raises(KeyboardInterrupt):
        train_on_labels(killed, data.train, data.val, CONFIG, callbacks=[KillAt(2)], backup_dir=tmp_path, **QUIET)
    assert errors.where() == " during epoch 3 of 4 of the model"  # what the interrupt message names
    resumed = fresh(build)  # a new process: new weights, fresh random state, restored from the backup
    before = json.loads((tmp_path / "state.json").read_text())["seconds"]  # training time of epochs 1 and 2
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resume.Backup, "__init__", with_log(resume.Backup.__init__, messages))
        history = train_on_labels(resumed, data.train, data.val, CONFIG, backup_dir=tmp_path, **QUIET)
    assert messages == ["model: resuming at epoch 3 of 4"]
    assert len(history.history["loss"]) == 2 and history.seconds > before > 0  # the seconds of all 4 epochs
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def with_log(init, messages):
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.log = messages.append

    return patched


def test_a_killed_distillation_resumes_to_the_same_weights(tmp_path):
    data = tiny_splits()
    soft = (np.random.default_rng(0).normal(size=(600, 10)).astype(np.float32),
            np.zeros((300, 10), np.float32))
    whole = fresh(lambda: models.mlp((16, 16), "s"))
    distil(whole, data.train, data.val, soft, CONFIG, **QUIET)
    killed = fresh(lambda: models.mlp((16, 16), "s"))
    with pytest.raises(KeyboardInterrupt):
        distil(killed, data.train, data.val, soft, CONFIG, callbacks=[KillAt(1)], backup_dir=tmp_path, **QUIET)
    resumed = fresh(lambda: models.mlp((16, 16), "s"))
    distil(resumed, data.train, data.val, soft, CONFIG, backup_dir=tmp_path, **QUIET)
    for a, b in zip(whole.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_backup_made_with_other_settings_is_not_resumed(tmp_path):
    data = tiny_splits()
    killed = fresh(lambda: models.mlp((16, 16), "s"))
    with pytest.raises(KeyboardInterrupt):
        train_on_labels(killed, data.train, data.val, CONFIG, callbacks=[KillAt(2)], backup_dir=tmp_path, **QUIET)
    other = dataclasses.replace(CONFIG, learning_rate=1e-2)
    restarted, reference = fresh(lambda: models.mlp((16, 16), "s")), fresh(lambda: models.mlp((16, 16), "s"))
    history = train_on_labels(restarted, data.train, data.val, other, backup_dir=tmp_path, **QUIET)
    train_on_labels(reference, data.train, data.val, other, **QUIET)
    assert len(history.history["loss"]) == 4  # every epoch, from the start
    np.testing.assert_array_equal(restarted.get_weights()[0], reference.get_weights()[0])


def test_a_fit_killed_after_its_last_epoch_restores_without_training(tmp_path):
    data = tiny_splits()
    whole = fresh(lambda: models.mlp((16, 16), "s"))
    train_on_labels(whole, data.train, data.val, CONFIG, backup_dir=tmp_path, **QUIET)  # kept: not yet saved
    again = fresh(lambda: models.mlp((16, 16), "s"))
    history = train_on_labels(again, data.train, data.val, CONFIG, backup_dir=tmp_path, **QUIET)
    assert history.history == {}
    np.testing.assert_array_equal(whole.get_weights()[0], again.get_weights()[0])


def test_a_damaged_backup_state_is_set_aside(tmp_path):
    (tmp_path / "state.json").write_text('{"epoch": 2, "weig')  # what no atomic write leaves, but a disk might
    messages = []
    backup = resume.Backup(tmp_path, "Student", "digest", log=messages.append)
    assert backup.initial_epoch() == 0
    assert "unreadable" in messages[0] and "training from the start" in messages[0] and not tmp_path.exists()


def test_damaged_backup_weights_stop_the_fit_in_one_error(tmp_path):
    data = tiny_splits()
    with pytest.raises(KeyboardInterrupt):
        train_on_labels(fresh(lambda: models.mlp((16, 16), "s")), data.train, data.val, CONFIG,
                        callbacks=[KillAt(2)], backup_dir=tmp_path, **QUIET)
    weights = tmp_path / json.loads((tmp_path / "state.json").read_text())["weights"]
    weights.write_bytes(weights.read_bytes()[:1000])  # a state that names a cut file: a disk error, not a kill
    with pytest.raises(DistillerError, match=f"^the backup in {tmp_path} is damaged .*; delete that folder to "
                                             "train this model from its start$"):
        train_on_labels(fresh(lambda: models.mlp((16, 16), "s")), data.train, data.val, CONFIG, backup_dir=tmp_path,
                        **QUIET)


def test_units_are_recorded_and_skipped_when_run_again(tmp_path):
    ran = []

    def train(name):
        def run(backup):
            ran.append(name)
            assert backup == tmp_path / "backups" / "widths" / name
            return len(name)
        return run

    first = resume.Units(tmp_path, "widths", log=lambda *_: None)
    assert [first.run(k, train(k)) for k in ("a", "bb")] == [1, 2]
    messages = []
    second = resume.Units(tmp_path, "widths", log=messages.append)  # the same command, after a kill
    assert [second.run(k, train(k)) for k in ("a", "bb", "ccc")] == [1, 2, 3]
    assert ran == ["a", "bb", "ccc"] and messages[0] == "widths: 2 units done by an interrupted run, skipping them"
    assert messages[1].startswith("widths: 3 units done (ccc: 3 test errors, ")
    second.finish()
    assert not (tmp_path / "progress" / "widths.json").exists() and not (tmp_path / "backups" / "widths").exists()


def test_a_stage_that_has_not_chosen_yet_shows_validation_errors_only(tmp_path):
    messages = []
    units = resume.Units(tmp_path, "paper", log=messages.append, shows="val_errors")
    units.run("a", lambda backup: {"errors": 61, "val_errors": 40})
    assert messages[0].startswith("paper: 1 units done (a: 40 validation errors, ") and "61" not in messages[0]


def test_kept_units_outlive_the_stage_and_a_larger_run_trains_only_the_new_ones(tmp_path):
    ran = []

    def train(name):
        return lambda backup: ran.append(name) or len(name)

    first = resume.Units(tmp_path, "paper", log=lambda *_: None, keep=True)
    assert [first.run(k, train(k)) for k in ("seed0", "seed1")] == [5, 5]
    first.finish()  # the stage's section is written; the record stays, its backups go
    assert (tmp_path / "progress" / "paper.json").is_file()
    assert not (tmp_path / "backups" / "paper").exists()
    messages = []
    larger = resume.Units(tmp_path, "paper", log=messages.append, keep=True)  # e.g. --seeds 3
    assert [larger.run(k, train(k)) for k in ("seed0", "seed1", "seed2")] == [5, 5, 5]
    assert ran == ["seed0", "seed1", "seed2"]
    assert messages[0].startswith("paper: 2 units done by earlier runs, reusing them (delete ")


def test_each_unit_prints_this_runs_count_and_the_time_left(tmp_path, monkeypatch):
    clock = iter(range(0, 10_000, 50))  # each unit takes 50 s by this clock
    monkeypatch.setattr(resume.time, "perf_counter", lambda: next(clock))
    messages = []
    units = resume.Units(tmp_path, "widths", log=messages.append)
    units.expect(4)
    units.done.update(earlier=7, other=9)  # done by an interrupted run; kept from a run of other settings
    assert units.run("earlier", lambda backup: 0) == 7  # reused: counted, not timed; "other" is not this run's
    for key in ("a", "b", "c"):
        units.run(key, lambda backup: {"errors": 412}, label=f"Student 30-30 {key}")
    assert messages == [
        "widths: 2 of 4 units done (Student 30-30 a: 412 test errors, 50 s); 50 s so far, about 1 min 40 s left",
        "widths: 3 of 4 units done (Student 30-30 b: 412 test errors, 50 s); 1 min 40 s so far, about 50 s left",
        "widths: 4 of 4 units done (Student 30-30 c: 412 test errors, 50 s); 2 min 30 s so far, all done",
    ]


def test_a_second_run_on_the_same_folder_stops_naming_the_first(tmp_path):
    with resume.exclusive(tmp_path):
        with pytest.raises(DistillerError, match=f"another run \\(PID {os.getpid()}\\) is using"), \
                resume.exclusive(tmp_path):
            pass
        done = subprocess.run([sys.executable, str(ROOT / "train.py"), "--quick", "--out-dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, check=False)
    # The project's line is the last of stderr: TensorFlow may log before it (with oneDNN on, two lines at import).
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"error: another run (PID {os.getpid()}) is using {tmp_path}/; " \
                                                   "wait for it to end, or give this one another --out-dir"


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    (tmp_path / ".lock").write_text("999999\n")  # its process is gone, and with it the OS lock
    with resume.exclusive(tmp_path):
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"


def test_the_time_left_weighs_each_unit_by_its_work(tmp_path, monkeypatch):
    clock = iter(range(0, 10_000, 60))  # each unit takes 60 s by this clock, whatever its work
    monkeypatch.setattr(resume.time, "perf_counter", lambda: next(clock))
    messages = []
    units = resume.Units(tmp_path, "paper", log=messages.append)
    units.expect(3, work=1 + 1 + 10)  # two short units, then one ten times longer
    units.run("a", lambda backup: 1, work=1)
    units.run("b", lambda backup: 1, work=1)
    assert messages[0].endswith("about 11 min 0 s left")  # 11 units of work left at 60 s each, not 2 units
    assert messages[1].endswith("about 10 min 0 s left")


def test_a_resumed_unit_counts_its_whole_training_time_for_the_time_left(tmp_path, monkeypatch):
    """A unit resumed at its last epochs takes this run 60 s, but its record says its training took 600 s: the
    time left is reckoned at 600 s per unit, not at 60."""
    clock = iter(range(0, 10_000, 60))
    monkeypatch.setattr(resume.time, "perf_counter", lambda: next(clock))
    messages = []
    units = resume.Units(tmp_path, "paper", log=messages.append, shows="val_errors")
    units.expect(3)
    units.run("resumed", lambda backup: {"val_errors": 50, "seconds": 600.0})
    assert messages[0].endswith("(resumed: 50 validation errors, 1 min 0 s); 1 min 0 s so far, about 20 min 0 s left")
