"""Consistent teaching from a cache of the teacher's 25 shifted views: the cache is exact, and a student
distilled from it sees random views, reproducibly per seed."""

import dataclasses

import keras
import numpy as np

from distiller import augment, cache, models
from distiller.config import Config
from distiller.distiller import Distiller
from distiller.models import logits
from distiller.training import distil, train_on_labels
from tests.conftest import blocks

CONFIG = Config(epochs=6, batch_size=32, learning_rate=3e-3, jit_compile=False, steps_per_execution=1)


def test_the_view_cache_is_exact_and_computed_once(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    teacher = models.mlp((32,), "teacher")
    x = np.random.default_rng(0).uniform(-1, 1, (300, 784)).astype(np.float32)
    views = cache.view_logits(teacher, x, tmp_path)
    assert views.shape == (300, 25, 10)
    v = np.random.default_rng(1).integers(0, 25, 300)
    on_the_batch = teacher(augment.view(x, v), training=False).numpy()  # the teacher run on the shifted batch
    np.testing.assert_allclose(views[np.arange(300), v], on_the_batch, atol=1e-5)
    np.testing.assert_allclose(views[:, augment.CENTER], logits(teacher, x), atol=1e-5)
    monkeypatch.setattr(cache, "logits", lambda *a: (_ for _ in ()).throw(AssertionError("computed again")))
    np.testing.assert_array_equal(cache.view_logits(teacher, x, tmp_path), views)


def consistent_student(data, views, seed):
    keras.utils.set_random_seed(0)  # the same initial weights for every call
    student = models.mlp((16, 16), "student")
    history = distil(student, data.train, data.val, views, CONFIG, verbose=0, seed=seed)
    return student, history


def test_a_consistent_student_learns_and_its_views_follow_the_seed(tmp_path):
    data = blocks()
    keras.utils.set_random_seed(0)
    teacher = models.mlp((64,), "teacher")
    train_on_labels(teacher, data.train, data.val, dataclasses.replace(CONFIG, epochs=5), verbose=0)
    views = tuple(cache.view_logits(teacher, x, tmp_path) for x in (data.train[0], data.val[0]))
    student, history = consistent_student(data, views, seed=0)
    assert history.history["val_accuracy"][-1] > 0.5  # 10 classes: chance is 0.1
    same, _ = consistent_student(data, views, seed=0)
    other, _ = consistent_student(data, views, seed=1)
    for a, b in zip(student.get_weights(), same.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(student.get_weights(), other.get_weights(), strict=True))


def test_evaluation_with_view_logits_uses_the_unshifted_view():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 784)).astype(np.float32)
    y = np.arange(64) % 10
    views = np.random.default_rng(1).normal(size=(64, 25, 10)).astype(np.float32)
    distiller = Distiller(student=models.mlp((8,), "s"))
    distiller.compile("adam", temperature=3.0, lambda_=0.5, jit_compile=False)
    with_views = distiller.evaluate({"pixels": x, "view_logits": views}, y, verbose=0, return_dict=True)
    center = distiller.evaluate({"pixels": x, "teacher_logits": views[:, augment.CENTER]}, y, verbose=0,
                                return_dict=True)
    assert with_views == center
