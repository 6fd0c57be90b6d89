"""Every artifact is reused only when its key matches: settings, split, data, what it was made from, its code."""

import dataclasses
import json
import sys

import keras
import numpy as np
import pytest

from distiller import cache, keys, models, resume, student_rows
from distiller.config import Config
from distiller.experiments import Context
from distiller.stages import class3, students, teacher
from tests.conftest import plant_paper_teacher, tiny_splits

CONFIG = Config(epochs=1, batch_size=64, steps_per_execution=1, jit_compile=False)


@pytest.mark.parametrize("kind", sorted(keys.RECIPES))
def test_each_recipe_records_the_digest_of_its_code(kind):
    recipe = keys.RECIPES[kind]
    assert keys.code_digest(recipe.modules) == recipe.digest, (
        f"the code of the {kind!r} recipe changed: if what it makes changes, raise its version in "
        f"distiller/keys.py; either way record its digest there: {keys.code_digest(recipe.modules)!r}")


def test_the_code_digest_ignores_comments_and_docstrings_but_not_code(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "recipe_probe.py"
    digest = lambda: keys.code_digest(("recipe_probe",))
    module.write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # why\n')
    before = digest()
    module.write_text('"""Other words."""\n\n\ndef f(x):\n    # a new comment\n    return x + 1\n')
    assert digest() == before
    module.write_text('def f(x):\n    return x + 2\n')
    assert digest() != before
    sys.modules.pop("recipe_probe", None)


def test_difference_says_what_differs():
    data = tiny_splits()
    from distiller.training import training_key

    wanted = training_key(CONFIG, data.train, 0, model="m")
    assert keys.difference(wanted, wanted) is None
    assert keys.difference(None, wanted) == "has no key (made by older code)"
    other_split = training_key(dataclasses.replace(CONFIG, seed=1), data.train, 0, model="m")
    assert keys.difference(other_split, wanted) == "was made on seed 1's split, this run uses seed 0's split"
    assert "epochs=5 (this run: 1)" in keys.difference(training_key(dataclasses.replace(CONFIG, epochs=5), data.train, 0,
                                                           model="m"), wanted)
    assert keys.difference(training_key(CONFIG, data.val, 0, model="m"), wanted) == "was made from other data"
    older = {**wanted, "recipe": wanted["recipe"] - 1}
    assert keys.difference(older, wanted).startswith("was made by older code")
    soft = np.zeros((len(data.train[1]), 10), np.float32)
    assert keys.difference(training_key(CONFIG, data.train, 0, keys.array_digest(soft), model="m"),
                           training_key(CONFIG, data.train, 0, keys.array_digest(soft + 1), model="m")) is not None


def test_a_student_names_its_teachers_logits_by_their_key_not_their_last_bits(tmp_path, monkeypatch):
    """Logits computed again on another processor differ in their last bits (float rounding): a unit distilled
    from them on one machine is still found on another; another teacher, or its shifted views, are other logits."""
    from distiller.models import logits
    from distiller.training import training_key

    data = tiny_splits()
    keras.utils.set_random_seed(0)
    net = models.mlp((8,), "net")
    here = cache.teacher_logits_for(net, data, tmp_path / "here")
    monkeypatch.setattr(cache, "logits", lambda model, x: logits(model, x) * (1 + 1e-6))  # another rounding
    there = cache.teacher_logits_for(net, data, tmp_path / "there")
    assert not np.array_equal(here[0], there[0])
    assert here.id == there.id
    assert training_key(CONFIG, data.train, 0, here.id, model="m") == training_key(CONFIG, data.train, 0, there.id, model="m")
    assert cache.teacher_view_logits_for(net, data, tmp_path).id != here.id
    bias = net.get_layer("logits").bias
    bias.assign(bias.numpy() + 1.0)
    assert cache.teacher_logits_for(net, data, tmp_path).id != here.id


def run_teacher(config, data, out, lines):
    return teacher.run(Context(config, data, out, lines.append), resume.UNRECORDED)


def test_a_saved_teacher_is_reused_only_with_the_same_key(tmp_path):
    data, lines = tiny_splits(), []
    first = run_teacher(CONFIG, data, tmp_path, lines)
    assert run_teacher(CONFIG, data, tmp_path, lines) == first
    assert "reusing" in lines[-1]
    # Another seed is another split: the old teacher trained on most of the new validation images.
    other = dataclasses.replace(CONFIG, seed=1)
    run_teacher(other, tiny_splits(), tmp_path, lines)
    assert any(f"{tmp_path}/teacher.keras was made on seed 0's split, this run uses seed 1's split; training a new one"
               in line for line in lines)
    assert json.loads((tmp_path / "teacher.json").read_text())["key"]["split"]["seed"] == 1
    lines.clear()
    run_teacher(dataclasses.replace(other, epochs=2), tiny_splits(), tmp_path, lines)
    assert any("epochs=1 (this run: 2)" in line for line in lines)


def test_a_model_without_a_key_is_not_reused(tmp_path):
    data, lines = tiny_splits(), []
    run_teacher(CONFIG, data, tmp_path, lines)
    (tmp_path / "teacher.json").unlink()  # what older code, or a kill between the model and its key, leaves
    run_teacher(CONFIG, data, tmp_path, lines)
    assert any("has no key" in line and "training a new one" in line for line in lines)


def test_class3_retrains_a_student_kd_distilled_at_another_temperature(tmp_path):
    data, lines = tiny_splits(), []
    config = dataclasses.replace(CONFIG, bias_max=1.0, bias_step=0.5, kd_epochs=1)
    run_teacher(config, data, tmp_path, lines)
    plant_paper_teacher(config, data, tmp_path)
    at_7 = Context(dataclasses.replace(config, temperature=7.0), data, tmp_path, lines.append)
    students.train_students(at_7, rows={"student_kd": student_rows.row(at_7, "student_kd")})  # the one class3 reloads
    lines.clear()
    ctx = Context(config, data, tmp_path, lines.append)
    result = class3.run(ctx, resume.UNRECORDED)
    assert any(f"student_kd.keras was made with temperature=7.0 (this run: {config.temperature})" in line
               for line in lines), lines
    wanted = student_rows.row_key(student_rows.row(ctx, "student_kd"), data, config.seed)
    assert result["records"]["student_kd"]["key"] == keys.digest(wanted)
    assert json.loads((tmp_path / "student_kd.json").read_text())["key"] == wanted


def test_a_logit_cache_is_keyed_and_its_key_written_beside_it(tmp_path):
    keras.utils.set_random_seed(0)
    net = models.mlp((8,), "net")
    x = np.random.default_rng(0).normal(size=(20, 784)).astype(np.float32)
    cache.teacher_logits(net, x, tmp_path)
    (stored,) = tmp_path.glob("*.json")
    assert json.loads(stored.read_text()) == cache.logits_key(net, x)
    assert stored.stem == keys.digest(cache.logits_key(net, x))
