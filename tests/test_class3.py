import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from distiller import bias_shift, models
from distiller.config import Config
from distiller.evaluate import summary
from distiller.experiments import Context
from distiller.models import logits
from distiller.stages.class3 import run_class3
from tests.conftest import plant_paper_teacher, tiny_splits


def test_transfer_set_has_no_3_and_keeps_everything_else():
    y = np.array([3, 1, 3, 0, 9, 3, 8])
    x = np.arange(len(y))
    (tx, ty), keep = bias_shift.transfer_set_without(x, y)
    assert 3 not in ty and list(tx) == [1, 3, 4, 6] and keep.sum() == 4


def test_shift_changes_exactly_one_bias_value():
    keras.utils.set_random_seed(0)
    model = models.student()
    shifted = bias_shift.shift_bias(model, 2.5)
    for layer in model.layers:
        for before, after in zip(layer.get_weights(), shifted.get_layer(layer.name).get_weights()):
            diff = np.flatnonzero(before != after)
            if layer.name == "logits" and before.ndim == 1:
                assert list(diff) == [3] and after[3] == pytest.approx(before[3] + 2.5)
            else:
                assert diff.size == 0


def test_bias_curve_equals_the_shifted_model_predictions():
    keras.utils.set_random_seed(1)
    model = models.student()
    x = np.random.default_rng(0).normal(size=(300, 784)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, 300)
    curve = bias_shift.bias_curve(logits(model, x), y, [0.0, 0.5, 3.0])
    for i, b in enumerate(curve["bias"]):
        result = summary(logits(bias_shift.shift_bias(model, b), x), y)
        assert curve["errors_on_digit"][i] == result["errors_on_3"]
        assert curve["errors_on_digit"][i] + curve["errors_on_others"][i] == result["errors"]


def test_bias_rules():
    curve = {"bias": [0, 1, 2, 3, 4], "errors_on_digit": [20, 12, 6, 2, 1], "errors_on_others": [50, 50, 53, 60, 70]}
    assert bias_shift.choose_bias(curve) == 2  # totals 70, 62, 59, 62, 71
    assert bias_shift.choose_bias(curve, tolerance=0) == 1  # the assignment's literal rule
    assert bias_shift.choose_bias(curve, tolerance=10) == 3


def planted(tmp_path, **settings):
    config = Config(out_dir=str(tmp_path), epochs=1, kd_epochs=1, batch_size=64, bias_step=0.5, bias_max=4.0,
                    **settings)
    plant_paper_teacher(config, tiny_splits(), tmp_path)  # what Student2.0 and Student2.0(-3) learn from
    keras.utils.set_random_seed(0)
    models.student().save(tmp_path / "student_kd.keras")  # without a key: class3 distils a new one
    return config


@pytest.fixture
def setup(tmp_path):
    return planted(tmp_path, jit_compile=False)  # what the stage reuses: XLA's compiles would be most of its time


def test_bias_chosen_without_test_labels_and_saved_model_reproduces_counts(tmp_path):
    config, quiet = planted(tmp_path), lambda *_: None  # XLA on, make run's default: the one stage trained under it
    first = run_class3(Context(config, tiny_splits(), tmp_path, quiet))

    shuffled = tiny_splits(test_labels=lambda y: np.random.default_rng(9).permutation(y))
    second = run_class3(Context(config, shuffled, tmp_path, quiet))
    assert second["bias"] == first["bias"] and second["curve"] == first["curve"]
    assert second["records"]["shifted"]["errors"] != first["records"]["shifted"]["errors"]  # test labels did change
    # Both rules read the validation curve only; the rule --bias-tolerance picks (None: fewest) is the saved model's.
    for result in (first, second):
        rules = result["both_rules"]
        assert [rules[r]["bias"] for r in ("assignment", "fewest")] == [
            bias_shift.choose_bias(first["curve"], 0), bias_shift.choose_bias(first["curve"])]
        assert (rules["fewest"]["errors"], rules["fewest"]["errors_on_3"]) == (
            result["records"]["shifted"]["errors"], result["records"]["shifted"]["errors_on_3"])

    reloaded = models.load(tmp_path / "student_kd_minus3_shifted.keras")
    record = summary(logits(reloaded, shuffled.test[0]), shuffled.test[1])
    saved = json.loads((tmp_path / "student_kd_minus3_shifted.json").read_text())["record"]
    assert (record["errors"], record["errors_on_3"]) == (saved["errors"], saved["errors_on_3"])
    assert saved["bias"] == second["bias"]


def test_a_second_run_reuses_the_saved_student_without_3s_and_retrain_distils_it_anew(setup, tmp_path, monkeypatch):
    from distiller.stages import class3 as stage

    config, lines = setup, []
    first = run_class3(Context(config, tiny_splits(), tmp_path, lambda *_: None))
    distilled = []
    monkeypatch.setattr(stage, "distil", lambda *a, **k: distilled.append(k["name"]))
    second = run_class3(Context(config, tiny_splits(), tmp_path, lines.append))
    assert distilled == [] and second == first
    assert any(line.startswith("Student2.0(-3): reusing") for line in lines), lines
    run_class3(Context(dataclasses.replace(config, retrain=True), tiny_splits(), tmp_path, lambda *_: None))
    assert "Student2.0(-3)" in distilled  # (the spy trains nothing)


def test_the_saved_student2_is_checked_loaded_and_announced_once(setup, tmp_path, monkeypatch):
    """The planted Student2.0 has no key: one line says so, and one is distilled anew; the next run reuses that one,
    reading its file once and saying so once."""
    loads, load = [], models.load
    monkeypatch.setattr(models, "load", lambda path, *a, **k: loads.append(Path(path).name) or load(path, *a, **k))
    said = lambda lines, words: [line for line in lines if "student_kd.keras" in line and words in line]
    first, second = [], []
    run_class3(Context(setup, tiny_splits(), tmp_path, first.append))
    assert len(said(first, "training a new one")) == 1, first
    assert loads.count("student_kd.keras") == 1  # the new one, as saved
    loads.clear()
    run_class3(Context(setup, tiny_splits(), tmp_path, second.append))
    assert len(said(second, "reusing")) == 1 and said(second, "training a new one") == [], second
    assert loads.count("student_kd.keras") == 1
