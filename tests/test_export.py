"""`train.py export` on the models of a --quick run: a SavedModel and two LiteRT files per model, each
checked against the Keras model, and the class-3 bias shift made on a SavedModel."""

import json
import shutil

import keras
import numpy as np
import pytest

from distiller import deploy, models
from distiller.paper_teacher import member_name
from distiller.stages.export import ENSEMBLE, FORMATS, MODELS
from tests.conftest import train


@pytest.fixture(scope="module")
def exported(quick_run, tmp_path_factory):
    """(the output folder, results.json, stdout) after `train.py --quick --out-dir OUT export` on a copy, to
    which a paper teacher of two (untrained) nets was added, as `--paper-teachers 2 paper` saves them."""
    out = tmp_path_factory.mktemp("export") / "quick"
    shutil.copytree(quick_run[0], out)
    for i in range(2):
        keras.utils.set_random_seed(i)
        models.paper_teacher(name=member_name(i)).save(out / f"{member_name(i)}.keras")
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.keras")}
    done = train("--quick", "--out-dir", str(out), "export", cwd=out.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    assert before == {p.name: p.stat().st_mtime_ns for p in out.glob("*.keras")}  # trains and rewrites nothing
    return out, json.loads((out / "results.json").read_text()), done.stdout


def inputs():
    return np.random.default_rng(0).uniform(-1, 1, (256, 784)).astype(np.float32)


def test_every_model_is_exported_in_every_format(exported):
    out, results, stdout = exported
    section = results["export"]["result"]
    assert list(section["models"]) == [*MODELS, "paper_teacher", ENSEMBLE]
    assert "Epoch 1/" not in stdout  # nothing was trained
    for name, row in section["models"].items():
        if name not in MODELS:
            continue  # no record of their errors: test_the_paper_teachers_ensemble_is_exported_as_one_model
        keras_errors = json.loads((out / f"{name}.json").read_text())["record"]["errors"]
        assert row["formats"]["SavedModel"]["errors"] == keras_errors
        assert row["formats"]["LiteRT float32"]["errors"] == keras_errors
        for fmt in FORMATS:
            measured = row["formats"][fmt]
            assert (out / measured["file"]).exists() and measured["bytes"] > 0
            assert 0 < measured["latency_ms"]["median"] <= measured["latency_ms"]["p95"]
    assert "## Served: SavedModel and LiteRT" in (out / "results.md").read_text()


def test_exports_compute_what_the_keras_model_computes(exported):
    out, x = exported[0], inputs()
    for name in MODELS:
        expected = models.load(out / f"{name}.keras")(x).numpy()
        np.testing.assert_allclose(deploy.SavedModel(out / "export" / name)(x), expected, atol=1e-5)
        np.testing.assert_allclose(deploy.LiteRT(out / "export" / f"{name}.tflite")(x), expected, atol=1e-4)
        int8 = deploy.LiteRT(out / "export" / f"{name}_int8.tflite")(x)
        assert np.mean(int8.argmax(1) == expected.argmax(1)) > 0.95  # 8-bit weights: close, not equal
        assert (out / "export" / f"{name}_int8.tflite").stat().st_size < 0.3 * (
            out / "export" / f"{name}.tflite").stat().st_size


def test_the_paper_teachers_ensemble_is_exported_as_one_model(exported):
    out, results, _ = exported
    x, rows = inputs(), results["export"]["result"]["models"]
    nets = [models.load(out / f"{member_name(i)}.keras")(x).numpy() for i in range(2)]
    np.testing.assert_allclose(deploy.SavedModel(out / "export" / ENSEMBLE)(x), np.mean(nets, 0), atol=1e-5)
    np.testing.assert_allclose(deploy.SavedModel(out / "export" / "paper_teacher")(x), nets[0], atol=1e-5)
    assert rows[ENSEMBLE]["title"] == "Teacher of the paper stage: the mean of 2 nets"
    assert rows[ENSEMBLE]["parameters"] == 2 * rows["paper_teacher"]["parameters"]
    assert "the mean of 2 nets | LiteRT int8 |" in (out / "results.md").read_text()


def test_the_bias_shift_on_a_saved_model_equals_the_keras_shift(exported):
    out, results, _ = exported
    patched = results["export"]["result"]["class3"]
    assert patched["equal"] and patched["saved_model"] == patched["keras"]
    x = inputs()
    keras_shifted = models.load(out / "student_kd_minus3_shifted.keras")(x).numpy()
    np.testing.assert_allclose(deploy.SavedModel(out / "export" / "student_kd_minus3_patched")(x), keras_shifted,
                               atol=1e-5)


def test_export_without_saved_models_is_one_line(tmp_path):
    done = train("--quick", "--out-dir", str(tmp_path), "export", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: no saved teacher at {tmp_path}/teacher.keras")
