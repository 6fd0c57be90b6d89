"""`train.py export` on the models of a --quick run: a SavedModel and two LiteRT files per model, each
checked against the Keras model, and the class-3 bias shift made on a SavedModel."""

import json
import shutil
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from distiller import atomic, deploy, models
from distiller.errors import DistillerError
from distiller.stages import export
from distiller.stages.export import CHECKED, FORMATS, MODELS
from tests.conftest import tiny_splits, train_here


@pytest.fixture(scope="module")
def exported(quick_run, tmp_path_factory):
    """(the output folder, results.json, stdout) after `train.py --quick --out-dir OUT export` (in this process) on
    a copy of a quick run's folder (with its paper teacher)."""
    out = tmp_path_factory.mktemp("export") / "quick"
    shutil.copytree(quick_run[0], out)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.keras")}
    done = train_here("--quick", "--out-dir", str(out), "export")
    assert done.returncode == 0, done.stderr[-3000:]
    assert before == {p.name: p.stat().st_mtime_ns for p in out.glob("*.keras")}  # trains and rewrites nothing
    return out, json.loads((out / "results.json").read_text()), done.stdout


def inputs():
    return np.random.default_rng(0).uniform(-1, 1, (256, 784)).astype(np.float32)


def test_every_model_is_exported_in_every_format(exported):
    out, results, stdout = exported
    section = results["export"]["result"]
    assert list(section["models"]) == [*MODELS, "paper_teacher"]
    assert "Epoch 1/" not in stdout  # nothing was trained
    for name, row in section["models"].items():
        if name not in MODELS:
            continue  # no record of its test errors: test_the_paper_teacher_is_exported_from_the_runs_folder
        keras_errors = json.loads((out / f"{name}.json").read_text())["record"]["errors"]
        assert row["formats"]["SavedModel"]["errors"] == keras_errors
        assert row["formats"]["LiteRT float32"]["errors"] == keras_errors
        for fmt in FORMATS:
            measured = row["formats"][fmt]
            assert (out / measured["file"]).exists() and measured["bytes"] > 0
            assert 0 < measured["latency_ms"]["median"] <= measured["latency_ms"]["p95"]
            if fmt in CHECKED:  # as checked when written
                assert measured["max_difference"] <= measured["tolerance"] and measured["classes_changed"] <= 1
    assert "## Served: SavedModel and LiteRT" in (out / "results.md").read_text()


def test_exports_compute_what_the_keras_model_computes(exported):
    out, x = exported[0], inputs()
    for name in MODELS:
        expected = models.load(out / f"{name}.keras")(x).numpy()
        np.testing.assert_allclose(deploy.SavedModelPredictor(out / "export" / name)(x), expected, atol=1e-5)
        np.testing.assert_allclose(deploy.LiteRTPredictor(out / "export" / f"{name}.tflite")(x), expected, atol=1e-4)
        int8 = deploy.LiteRTPredictor(out / "export" / f"{name}_int8.tflite")(x)
        assert np.mean(int8.argmax(1) == expected.argmax(1)) > 0.95  # 8-bit weights: close, not equal
        assert (out / "export" / f"{name}_int8.tflite").stat().st_size < 0.3 * (
            out / "export" / f"{name}.tflite").stat().st_size


def test_the_paper_teacher_is_exported_from_the_runs_folder(exported):
    out, results, _ = exported
    x, rows = inputs(), results["export"]["result"]["models"]
    expected = models.load(out / "paper_teacher.keras")(x).numpy()  # the quick run's, not the committed one
    np.testing.assert_allclose(deploy.SavedModelPredictor(out / "export" / "paper_teacher")(x), expected, atol=1e-5)
    assert rows["paper_teacher"]["title"] == "Paper teacher"
    assert "| Paper teacher | LiteRT int8 |" in (out / "results.md").read_text()


def test_the_bias_shift_on_a_saved_model_equals_the_keras_shift(exported):
    out, results, _ = exported
    patched = results["export"]["result"]["class3"]
    assert patched["equal"] and patched["saved_model"] == patched["keras"]
    x = inputs()
    keras_shifted = models.load(out / "student_kd_minus3_shifted.keras")(x).numpy()
    np.testing.assert_allclose(deploy.SavedModelPredictor(out / "export" / "student_kd_minus3_patched")(x), keras_shifted,
                               atol=1e-5)


def test_export_without_saved_models_is_one_line(tmp_path):
    done = train_here("--quick", "--out-dir", str(tmp_path), "export")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: no saved teacher at {tmp_path}/teacher.keras")


def test_an_export_off_by_float_rounding_passes_and_a_wrong_one_is_refused():
    rng = np.random.default_rng(0)
    expected = rng.normal(0, 10, (10_000, 10)).astype(np.float32)  # a trained teacher's scale: |logits| up to ~40
    rounded = expected + rng.uniform(-3e-5, 3e-5, expected.shape).astype(np.float32)  # 1e-6 of it, as LiteRT's
    check = export.checked_export("teacher", "SavedModel", rounded, expected)
    assert 1e-5 < check["max_difference"] < 4e-5  # an absolute tolerance of 1e-5 refused such an export
    assert check["tolerance"] == pytest.approx(1e-4 * np.abs(expected).max()) and check["classes_changed"] == 0

    swapped = expected[:, [0, 1, 2, 8, 4, 5, 6, 7, 3, 9]]  # outputs 3 and 8 exchanged
    changed = expected * np.float32(1.01)  # the logits layer's weights off by 1%
    for wrong in (swapped, changed, np.full_like(expected, np.nan)):
        with pytest.raises(DistillerError, match=r"the LiteRT float32 export of teacher differs from the Keras model by "
                           r"\S+ on the test set \(tolerance 0.00\d+: 0.0001 of its largest \|logit\|"):
            export.checked_export("teacher", "LiteRT float32", wrong, expected)


def test_a_near_tie_may_change_class_but_two_changes_are_refused():
    expected = np.tile(np.arange(10, dtype=np.float32), (100, 1))  # every image: class 9, by a margin of 1
    expected[:2, 8] = 9 - 1e-4  # two near-ties, within the tolerance (9e-4) of each other
    flipped = expected.copy()
    flipped[:2, 8] = 9 + 1e-4  # both broken the other way, by no more than rounding could
    one = flipped.copy()
    one[1, 8] = expected[1, 8]
    assert export.checked_export("student", "SavedModel", one, expected)["classes_changed"] == 1
    with pytest.raises(DistillerError) as error:
        export.checked_export("student", "SavedModel", flipped, expected)
    assert str(error.value) == ("the SavedModel export of student predicts another class than the Keras model on 2 "
                                "test images (at most 1 may differ, a near-tie broken by float rounding)")


class SwappedLiteRT(deploy.LiteRTPredictor):
    """A LiteRT file whose outputs 3 and 8 are exchanged."""

    def __call__(self, x):
        return super().__call__(x)[:, [0, 1, 2, 8, 4, 5, 6, 7, 3, 9]]


def export_changed(model, path):
    """A SavedModel of `model` with its weights into class 0 off by 1%."""
    weights = model.get_weights()
    weights[-2][:, 0] *= 1.01
    changed = keras.models.clone_model(model)
    changed.set_weights(weights)
    changed.export(path, verbose=False)


@pytest.mark.parametrize("fmt", ["SavedModel", "LiteRT float32"])
def test_a_wrong_export_stops_the_stage_before_the_next_file_is_made(tmp_path, monkeypatch, fmt):
    keras.utils.set_random_seed(0)
    atomic.save_model(models.mlp((16,), "tiny"), tmp_path / "tiny.keras")
    if fmt == "SavedModel":
        monkeypatch.setattr(deploy, "export_saved_model", export_changed)
    else:
        monkeypatch.setattr(deploy, "LiteRTPredictor", SwappedLiteRT)
    ctx = SimpleNamespace(data=tiny_splits(), out=tmp_path, log=lambda *args: None)
    with pytest.raises(DistillerError, match=rf"^the {fmt} export of tiny differs from the Keras model by "):
        export.export_model(ctx, "tiny", tmp_path / "tiny.keras", tmp_path / "export")
    made = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert made == (["tiny"] if fmt == "SavedModel" else ["tiny", "tiny.tflite"])
