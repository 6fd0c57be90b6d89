"""The Distiller as a Keras user meets it: models by keyword, its hyperparameters kept by its config, one logged
"loss" that is the objective, and class_weight weighing each example's losses."""

import json

import keras
import numpy as np
import pytest

from distiller import models
from distiller.distiller import Distiller

T, LAMBDA = 4.0, 0.5


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 784)).astype(np.float32), rng.integers(0, 10, 64)
    return x, y, rng.normal(size=(64, 10)).astype(np.float32) * 3  # the images, labels, teacher's logits


def mlp(name, seed):
    keras.utils.set_random_seed(seed)
    return models.mlp((8,), name)


@pytest.mark.parametrize("order", ["student, teacher", "teacher, student", "student"])
def test_models_by_position_are_refused_in_words(order):
    named = {"student": mlp("s", 0), "teacher": mlp("t", 1)}
    args = [named[name.strip()] for name in order.split(",")]
    with pytest.raises(TypeError, match=r"by keyword: Distiller\(student=\.\.\., teacher=\.\.\.\)") as refused:
        Distiller(*args)
    received = ", ".join(f"Sequential {m.name!r}" for m in args)
    assert str(refused.value).endswith(f"got {len(args)} positional argument(s): {received}")
    assert "\n" not in str(refused.value)
    assert named["teacher"].trainable  # refused before anything was frozen


def test_a_distiller_without_a_student_is_refused():
    with pytest.raises(TypeError, match="got no student="):
        Distiller(teacher=mlp("t", 1))


def test_bad_hyperparameters_are_refused_when_the_distiller_is_made():
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got 0"):
        Distiller(student=mlp("s", 0), temperature=0)
    with pytest.raises(ValueError, match="lambda_ must be a finite number >= 0, got -1"):
        Distiller(student=mlp("s", 0), lambda_=-1)


def test_from_config_keeps_the_hyperparameters_and_computes_the_same_loss(batch):
    x, y, _ = batch
    distiller = Distiller(student=mlp("s", 0), teacher=mlp("t", 1), seed=4)
    distiller.compile("sgd", temperature=7.0, lambda_=0.25, hard_labels=False)
    restored = Distiller.from_config(json.loads(json.dumps(distiller.get_config())))
    assert (restored.temperature, restored.lambda_, restored.hard_labels, restored.seed) == (7.0, 0.25, False, 4)
    assert not restored.teacher.trainable
    restored.compile("sgd")  # an optimizer alone keeps them
    assert (restored.temperature, restored.lambda_, restored.hard_labels) == (7.0, 0.25, False)
    restored.student.set_weights(distiller.student.get_weights())
    restored.teacher.set_weights(distiller.teacher.get_weights())
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert restored.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(logs, rel=1e-6)
    assert logs["loss"] == pytest.approx(0.25 * logs["distillation_loss"], rel=1e-5)  # hard_labels=False kept


def test_compile_sets_them_and_its_defaults_are_the_distillers():
    fresh, made = Distiller(student=mlp("s", 0)), Distiller(student=mlp("s", 0), temperature=3.0, lambda_=0.1)
    fresh.compile("sgd")
    made.compile("sgd", lambda_=0.2)
    assert (fresh.temperature, fresh.lambda_, fresh.hard_labels) == (20.0, 1.0, True)
    assert (made.temperature, made.lambda_) == (3.0, 0.2)
    assert Distiller.from_config(made.get_config()).lambda_ == 0.2


def test_an_uncompiled_distiller_saved_and_loaded_keeps_its_hyperparameters(tmp_path):
    distiller = Distiller(student=mlp("s", 0), temperature=5.0, lambda_=0.3, hard_labels=False)
    distiller.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    assert (loaded.temperature, loaded.lambda_, loaded.hard_labels) == (5.0, 0.3, False)
    for a, b in zip(distiller.student.get_weights(), loaded.student.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def cached_distiller():
    distiller = Distiller(student=mlp("s", 0))
    distiller.compile(keras.optimizers.SGD(0.1), metrics=["accuracy"], temperature=T, lambda_=LAMBDA)
    return distiller


def test_one_loss_is_logged_and_it_is_the_objective(batch):
    x, y, v = batch
    inputs = {"pixels": x, "teacher_logits": v}
    distiller = cached_distiller()
    names = ["loss", "accuracy", "student_loss", "distillation_loss"]
    values = distiller.evaluate(inputs, y, verbose=0)  # a list in metrics order: once compile's own "loss" came twice
    assert values == pytest.approx([distiller.evaluate(inputs, y, verbose=0, return_dict=True)[n] for n in names])
    history = distiller.fit(inputs, y, batch_size=16, epochs=2, verbose=0, validation_data=(inputs, y)).history
    assert set(history) == {*names, *(f"val_{n}" for n in names)}
    for prefix in ("", "val_"):
        losses = (history[prefix + n] for n in ("loss", "student_loss", "distillation_loss"))
        for loss, hard, soft in zip(*losses, strict=True):
            assert loss > 0 and loss == pytest.approx(hard + LAMBDA * soft, rel=1e-5)


def log_softmax(a):
    a = a - a.max(axis=1, keepdims=True)
    return a - np.log(np.exp(a).sum(axis=1, keepdims=True))


def hand_computed_losses(y, z, v):
    """Per-example hard CE and T^2 * CE(softmax(v/T), softmax(z/T)), in float64."""
    z, v = z.astype(np.float64), v.astype(np.float64)
    hard = -log_softmax(z)[np.arange(len(y)), y]
    soft = -(T**2) * np.sum(np.exp(log_softmax(v / T)) * log_softmax(z / T), axis=1)
    return hard, soft


def test_class_weight_weighs_each_examples_losses_by_its_class(batch):
    x, y, v = batch
    class_weight = {c: 0.25 + c / 3 for c in range(10)}
    distiller = cached_distiller()
    hard, soft = hand_computed_losses(y, distiller.student(x).numpy(), v)
    logs = distiller.train_on_batch({"pixels": x, "teacher_logits": v}, y, class_weight=class_weight,
                                    return_dict=True)  # the losses of the forward pass, before the step
    w = np.array([class_weight[c] for c in y])
    assert logs["student_loss"] == pytest.approx(np.mean(w * hard), rel=1e-5)
    assert logs["distillation_loss"] == pytest.approx(np.mean(w * soft), rel=1e-5)
    assert logs["loss"] == pytest.approx(np.mean(w * (hard + LAMBDA * soft)), rel=1e-5)
    assert logs["loss"] != pytest.approx(np.mean(hard + LAMBDA * soft), rel=1e-2)  # the weighting did change it
