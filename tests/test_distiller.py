import json
import zipfile

import keras
import numpy as np
import pytest

from distiller import models
from distiller.distiller import Distiller
from distiller.losses import distillation_loss


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 784)).astype(np.float32), rng.integers(0, 10, 64)


def make(temperature=4.0, lambda_=0.5, teacher=True, learning_rate=1e-2):
    keras.utils.set_random_seed(0)
    distiller = Distiller(models.student(), models.teacher() if teacher else None)
    distiller.compile(keras.optimizers.SGD(learning_rate), metrics=["accuracy"], temperature=temperature, lambda_=lambda_)
    return distiller


def test_teacher_frozen_and_student_trained(batch):
    distiller = make()
    teacher_before = [w.numpy().copy() for w in distiller.teacher.weights]
    student_before = [w.numpy().copy() for w in distiller.student.weights]
    distiller.fit(*batch, batch_size=16, epochs=2, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(teacher_before, distiller.teacher.weights))
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(student_before, distiller.student.weights))
    assert {id(v) for v in distiller.trainable_variables} == {id(v) for v in distiller.student.trainable_variables}


def test_logged_losses_add_up_to_the_objective(batch):
    distiller = make(temperature=3.0, lambda_=0.7)
    logs = distiller.evaluate(*batch, batch_size=64, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "student_loss", "distillation_loss", "accuracy"}
    assert logs["loss"] == pytest.approx(logs["student_loss"] + 0.7 * logs["distillation_loss"], rel=1e-5)
    z, v = distiller.student(batch[0]).numpy(), distiller.teacher(batch[0]).numpy()
    assert logs["loss"] == pytest.approx(float(distillation_loss(batch[1], z, v, 3.0, 0.7)), rel=1e-5)


def test_without_hard_labels_the_loss_is_the_soft_term_alone(batch):
    keras.utils.set_random_seed(0)
    distiller = Distiller(models.student(), models.teacher())
    distiller.compile(keras.optimizers.SGD(1e-2), temperature=3.0, lambda_=0.7, hard_labels=False)
    logs = distiller.evaluate(*batch, batch_size=64, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(0.7 * logs["distillation_loss"], rel=1e-5)
    assert logs["student_loss"] > 0  # still logged, not trained on


def test_cached_logits_step_equals_teacher_run_step(batch):
    x, y = batch
    with_teacher, cached = make(), make(teacher=False)
    teacher_logits = with_teacher.teacher(x).numpy()
    logs_a = with_teacher.train_on_batch(x, y, return_dict=True)
    logs_b = cached.train_on_batch({"pixels": x, "teacher_logits": teacher_logits}, y, return_dict=True)
    assert logs_a == pytest.approx(logs_b, rel=1e-6)
    for a, b in zip(with_teacher.student.weights, cached.student.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_save_and_load_round_trip(batch, tmp_path):
    distiller = make(temperature=7.0, lambda_=0.25)
    distiller.fit(*batch, batch_size=32, epochs=1, verbose=0)
    distiller.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    np.testing.assert_array_equal(loaded.predict(batch[0], verbose=0), distiller.predict(batch[0], verbose=0))
    assert (loaded.temperature, loaded.lambda_) == (7.0, 0.25)
    assert not loaded.teacher.trainable


def test_student_file_never_carries_the_teacher(tmp_path):
    distiller = make()
    distiller.student.save(tmp_path / "student.keras")
    with zipfile.ZipFile(tmp_path / "student.keras") as z:
        config = json.loads(z.read("config.json"))
    assert "teacher" not in json.dumps(config)
    assert models.load(tmp_path / "student.keras").count_params() == 837_610


def test_bad_arguments_refused():
    distiller = Distiller(models.student())
    with pytest.raises(ValueError, match="temperature"):
        distiller.compile("adam", temperature=0.0)
    with pytest.raises(ValueError, match="own loss"):
        distiller.compile("adam", loss="mse")
    distiller.compile("adam")
    with pytest.raises(ValueError, match="no teacher"):
        distiller.train_on_batch(np.zeros((2, 784), np.float32), np.zeros(2))


def test_mirrored_strategy_on_two_cpus_gives_the_one_device_first_step(batch):
    import tensorflow as tf

    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs two logical CPUs (configured at start-up in conftest.py)")
    x, y = batch

    def first_step(strategy):
        with strategy.scope():
            distiller = make(teacher=True)
        distiller.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
        return distiller.student.get_weights(), distiller.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)

    one_weights, one_logs = first_step(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two_weights, two_logs = first_step(tf.distribute.MirroredStrategy([d.name for d in devices[:2]]))
    assert one_logs == pytest.approx(two_logs, rel=1e-5)
    for a, b in zip(one_weights, two_weights):  # same update: the loss was reduced over the global batch
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_standard_callbacks_work(batch, tmp_path):
    x, y = batch
    distiller = make(teacher=False)
    teacher_logits = make().teacher(x).numpy()
    inputs = {"pixels": x, "teacher_logits": teacher_logits}
    history = distiller.fit(
        inputs, y, batch_size=16, epochs=50, verbose=0, validation_data=(inputs, y),
        callbacks=[
            keras.callbacks.EarlyStopping("val_distillation_loss", mode="min", patience=0, min_delta=1e9),
            keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_loss"),
            keras.callbacks.TensorBoard(str(tmp_path / "logs")),
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
        ],
    )
    assert len(history.history["loss"]) == 2  # EarlyStopping read the Distiller's own metric
    restored = keras.models.load_model(tmp_path / "best.keras")
    np.testing.assert_allclose(restored.predict(inputs, verbose=0), distiller.predict(inputs, verbose=0), atol=1e-6)
    assert list((tmp_path / "logs").rglob("*tfevents*"))
