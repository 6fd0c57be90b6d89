"""The paper teacher as an ensemble: its logits are the mean of its members', and a run with more members
trains only the missing ones, each from a seed of its own on the same split."""

import dataclasses
import json

import keras
import numpy as np

from distiller import models
from distiller.config import Config
from distiller.paper_teacher import get_paper_teacher
from distiller.training import logits
from tests.test_consistent import blocks

CONFIG = Config(epochs=1, batch_size=32, jit_compile=False, steps_per_execution=1, paper_teacher_epochs=1)


def test_an_ensemble_averages_its_members_logits():
    keras.utils.set_random_seed(0)
    members = [models.mlp((8,), f"member{i}") for i in range(3)]
    x = np.random.default_rng(0).uniform(-1, 1, (50, 784)).astype(np.float32)
    mean = np.mean([logits(m, x) for m in members], axis=0)
    np.testing.assert_allclose(logits(models.ensemble(members), x), mean, atol=1e-6)


def test_more_members_train_only_the_new_ones_from_their_own_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "paper_teacher", lambda name="paper_teacher": models.mlp((16,), name))  # small
    data, lines = blocks((200, 100)), []
    config = dataclasses.replace(CONFIG, out_dir=str(tmp_path))
    single = get_paper_teacher(config, data, tmp_path, lines.append)
    pair = get_paper_teacher(dataclasses.replace(config, paper_teachers=2), data, tmp_path, lines.append)
    assert [line.split(":")[0] for line in lines if "1200-1200" in line] == ["Paper teacher", "Paper teacher 2 of 2"]
    assert any(line.startswith("Paper teacher 1 of 2: reusing") for line in lines)
    assert json.loads((tmp_path / "paper_teacher_2.json").read_text())["record"]["weights_seed"] == 1
    second = models.load(tmp_path / "paper_teacher_2.keras")
    assert not np.array_equal(single.get_weights()[0], second.get_weights()[0])  # another seed, other weights
    x = data.val[0]
    np.testing.assert_allclose(logits(pair, x), (logits(single, x) + logits(second, x)) / 2, atol=1e-5)
    lines.clear()
    again = get_paper_teacher(dataclasses.replace(config, paper_teachers=2), data, tmp_path, lines.append)
    assert not any("1200-1200" in line for line in lines)  # both reused
    np.testing.assert_array_equal(logits(again, x), logits(pair, x))


def test_a_net_trained_for_other_epochs_is_trained_anew_saying_why(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "paper_teacher", lambda name="paper_teacher": models.mlp((16,), name))  # small
    data, lines = blocks((200, 100)), []
    config = dataclasses.replace(CONFIG, out_dir=str(tmp_path))
    get_paper_teacher(config, data, tmp_path, lines.append)
    get_paper_teacher(config, data, tmp_path, lines.append)
    assert sum("reusing" in line for line in lines) == 1  # trained as asked: reused
    get_paper_teacher(dataclasses.replace(config, paper_teacher_epochs=2), data, tmp_path, lines.append)
    assert f"Paper teacher: {tmp_path}/paper_teacher.keras was made with epochs=1 (this run: 2); training a new one" \
        in lines
    assert json.loads((tmp_path / "paper_teacher.json").read_text())["key"]["settings"]["epochs"] == 2
