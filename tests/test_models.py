import itertools

import keras
import numpy as np
import pytest

from distiller import models
from distiller.errors import DistillerError


def dense_params(sizes):
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def test_shapes_and_parameter_counts():
    teacher, student = models.teacher(), models.student()
    assert teacher.count_params() == dense_params([784, 1200, 1200, 10]) == 2_395_210
    assert student.count_params() == dense_params([784, 600, 600, 10]) == 837_610
    assert student.output_shape == (None, 10)
    assert student.get_layer("logits").activation is keras.activations.linear  # logits, no softmax


def test_load_refuses_missing_and_wrong_shaped_files(tmp_path):
    with pytest.raises(DistillerError, match="no saved teacher"):
        models.load(tmp_path / "teacher.keras", "teacher")
    wrong = keras.Sequential([keras.Input((784,)), keras.layers.Dense(5)])
    wrong.save(tmp_path / "wrong.keras")
    with pytest.raises(DistillerError, match="expected"):
        models.load(tmp_path / "wrong.keras")
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip file")
    with pytest.raises(DistillerError, match="corrupt.keras is corrupt"):
        models.load(tmp_path / "corrupt.keras")


def test_saved_model_loads_back_to_the_same_predictions(tmp_path):
    student = models.student()
    x = np.random.default_rng(0).normal(size=(16, 784)).astype(np.float32)
    student.save(tmp_path / "s.keras")
    np.testing.assert_array_equal(models.load(tmp_path / "s.keras")(x).numpy(), student(x).numpy())
