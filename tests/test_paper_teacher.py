"""The paper teacher: one net, reused from the run's folder or the committed copy only under this run's key and
file digest, trained anew (saying why) otherwise or when asked."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from distiller import models, paper_teacher
from distiller.config import Config
from distiller.errors import DistillerError
from distiller.models import logits
from distiller.paper_teacher import get_or_train_paper_teacher
from tests.conftest import blocks, plant_paper_teacher

CONFIG = Config(epochs=1, batch_size=32, jit_compile=False, steps_per_execution=1, paper_teacher_epochs=1)


@pytest.fixture
def small(monkeypatch, tmp_path):
    """A small paper teacher, an empty committed folder, and the data and config of a run in tmp_path/run."""
    monkeypatch.setattr(models, "paper_teacher", lambda name="paper_teacher": models.mlp((16,), name))
    monkeypatch.setattr(paper_teacher, "COMMITTED", tmp_path / "committed")
    (tmp_path / "committed").mkdir()
    (tmp_path / "run").mkdir()
    return blocks((200, 100)), dataclasses.replace(CONFIG, out_dir=str(tmp_path / "run"))


def trained(lines):
    return [line for line in lines if line.startswith("Paper teacher: 1200-1200")]


def test_a_run_without_its_own_reuses_the_committed_teacher_made_under_its_key(small, tmp_path):
    data, config = small
    committed = plant_paper_teacher(config, data, tmp_path / "committed", seed=3)
    lines = []
    teacher = get_or_train_paper_teacher(config, data, tmp_path / "run", lines.append)
    assert not trained(lines) and any("committed/paper_teacher.keras" in line and "reusing" in line for line in lines)
    np.testing.assert_array_equal(logits(teacher, data.val[0]), logits(committed, data.val[0]))
    assert not (tmp_path / "run" / "paper_teacher.keras").exists()  # read where it lies, not copied

    lines.clear()  # a run on another split does not take it
    get_or_train_paper_teacher(dataclasses.replace(config, seed=1), blocks((200, 100)), tmp_path / "run", lines.append)
    assert any("was made on seed 0's split, this run uses seed 1's split; training a new one" in line
               for line in lines) and trained(lines)


def test_a_changed_file_is_refused_and_trained_anew(small, tmp_path):
    data, config = small
    plant_paper_teacher(config, data, tmp_path / "run")
    (tmp_path / "other").mkdir()
    plant_paper_teacher(config, data, tmp_path / "other", seed=1)  # a valid .keras file, but another net
    (tmp_path / "run" / "paper_teacher.keras").write_bytes((tmp_path / "other" / "paper_teacher.keras").read_bytes())
    lines = []
    get_or_train_paper_teacher(config, data, tmp_path / "run", lines.append)
    assert any("its SHA-256 differs" in line and "training a new one" in line for line in lines) and trained(lines)
    lines.clear()
    get_or_train_paper_teacher(config, data, tmp_path / "run", lines.append)
    assert not trained(lines)  # the new one, with its own digest, is reused


def test_retrain_and_other_epochs_train_anew_saying_why(small, tmp_path):
    data, config = small
    get_or_train_paper_teacher(config, data, tmp_path / "run", [].append)
    lines = []
    get_or_train_paper_teacher(dataclasses.replace(config, retrain_paper_teacher=True), data, tmp_path / "run", lines.append)
    assert trained(lines)
    lines.clear()
    get_or_train_paper_teacher(dataclasses.replace(config, paper_teacher_epochs=2), data, tmp_path / "run", lines.append)
    assert f"Paper teacher: {tmp_path}/run/paper_teacher.keras was made with epochs=1 (this run: 2); training a new " \
        "one" in lines
    saved = json.loads((tmp_path / "run" / "paper_teacher.json").read_text())
    assert saved["key"]["settings"]["epochs"] == 2 and saved["made_by"]["command"]


def test_the_committed_teacher_is_whole_small_and_made_by_the_default_recipe():
    path = paper_teacher.COMMITTED / "paper_teacher.keras"
    if not path.exists():
        pytest.skip("no paper teacher committed")
    saved = json.loads(path.with_suffix(".json").read_text())
    from distiller.artifacts import file_digest

    assert saved["sha256"] == file_digest(path) and path.stat().st_size <= 10 * 2**20
    d = Config()
    assert saved["key"]["settings"]["epochs"] == d.paper_teacher_epochs and saved["key"]["settings"]["seed"] == d.seed
    assert saved["key"]["split"] == {"seed": d.seed, "val_size": d.val_size, "train_size": None}
    assert saved["made_by"]["command"].startswith("python train.py")
    assert models.load(path).count_params() == models.paper_teacher().count_params()


def test_a_run_that_will_train_it_says_so_before_any_training_with_where_to_get_it_and_the_cost(small, tmp_path):
    data, config = small  # as an installed package runs: no committed teacher
    lines = []
    paper_teacher.announce(config, data, tmp_path / "run", lines.append)
    assert len(lines) == 1 and "none in" in lines[0] and "--paper-teacher FILE" in lines[0]
    assert "this run will train one: 1 epochs, under a minute on 2 cores" in lines[0]
    get_or_train_paper_teacher(config, data, tmp_path / "run", lines.append)
    assert "(under a minute on 2 cores; a kill resumes from the last epoch)" in trained(lines)[0]
    lines.clear()
    paper_teacher.announce(config, data, tmp_path / "run", lines.append)  # now saved in the run's folder
    assert lines == []


def test_the_committed_teacher_is_found_by_flag_or_environment(small, tmp_path, monkeypatch):
    data, config = small
    (tmp_path / "elsewhere").mkdir()
    plant_paper_teacher(config, data, tmp_path / "elsewhere")
    file = tmp_path / "elsewhere" / "paper_teacher.keras"
    for flag, env in ((str(file), None), (None, str(file))):
        if env:
            monkeypatch.setenv(paper_teacher.ENV, env)
        lines, run = [], dataclasses.replace(config, paper_teacher=flag)
        paper_teacher.announce(run, data, tmp_path / "run", lines.append)
        get_or_train_paper_teacher(run, data, tmp_path / "run", lines.append)
        assert lines == [f"Paper teacher: reusing {file}, made with this run's settings, split, data and code"]
    monkeypatch.setenv(paper_teacher.ENV, str(tmp_path / "missing.keras"))
    with pytest.raises(DistillerError, match=r"^\$DISTILLER_PAPER_TEACHER names no file: .*missing.keras; the "
                                             "committed paper teacher is saved_models/paper_teacher.keras of"):
        paper_teacher.announce(config, data, tmp_path / "run", lines.append)


def test_the_training_cost_follows_the_epochs_and_images():
    full = SimpleNamespace(train=(range(55_000), None))  # the training split: 60,000 images less 5,000 held out
    cost = lambda epochs, data=full: paper_teacher.training_cost(Config(paper_teacher_epochs=epochs), data)
    assert cost(600) == "about 1 h 30 min on 2 cores"  # the committed teacher's 5,428 s
    assert cost(60) == "about 9 min 3 s on 2 cores"
    assert cost(4) == "under a minute on 2 cores"
    assert cost(600, SimpleNamespace(train=(range(5_500), None))) == "about 9 min 3 s on 2 cores"
