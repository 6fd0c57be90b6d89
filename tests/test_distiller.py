import json
import zipfile

import keras
import numpy as np
import pytest

from distiller import augment, models
from distiller.distiller import Distiller
from distiller.losses import distillation_loss


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 784)).astype(np.float32), rng.integers(0, 10, 64)


def make(temperature=4.0, lambda_=0.5, teacher=True, learning_rate=1e-2):
    keras.utils.set_random_seed(0)
    distiller = Distiller(student=models.student(), teacher=models.teacher() if teacher else None)
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
    distiller = Distiller(student=models.student(), teacher=models.teacher())
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
    distiller = Distiller(student=models.student())
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
        ],
    )
    assert len(history.history["loss"]) == 2  # EarlyStopping read the Distiller's own metric
    restored = keras.models.load_model(tmp_path / "best.keras")
    np.testing.assert_allclose(restored.predict(inputs, verbose=0), distiller.predict(inputs, verbose=0), atol=1e-6)
    assert list((tmp_path / "logs").rglob("*tfevents*"))


def teacher_logits_for(x):
    return np.random.default_rng(2).normal(size=(len(x), 10)).astype(np.float32) * 3


def backup_distiller(seed):
    keras.utils.set_random_seed(seed)
    distiller = Distiller(student=models.mlp((16,), "s"))
    distiller.compile(keras.optimizers.Adam(1e-2), temperature=3.0, lambda_=0.5)
    return distiller


class Interrupted(Exception):
    pass


def interrupt_after_first_epoch(epoch, logs):
    if epoch == 0:
        raise Interrupted


def test_backup_and_restore_resumes_an_interrupted_fit(batch, tmp_path):
    x, y = batch
    inputs = {"pixels": x, "teacher_logits": teacher_logits_for(x)}
    options = {"batch_size": 16, "epochs": 3, "shuffle": False, "verbose": 0}
    uninterrupted = backup_distiller(0)
    uninterrupted.fit(inputs, y, **options)
    backup = str(tmp_path / "backup")
    with pytest.raises(Interrupted):  # BackupAndRestore saved epoch 0 just before
        backup_distiller(0).fit(inputs, y, **options, callbacks=[
            keras.callbacks.BackupAndRestore(backup), keras.callbacks.LambdaCallback(on_epoch_end=interrupt_after_first_epoch)])
    resumed = backup_distiller(1)  # other initial weights: only a restore ends where the uninterrupted fit did
    history = resumed.fit(inputs, y, **options, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert history.epoch == [1, 2]
    for a, b in zip(uninterrupted.student.get_weights(), resumed.student.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)  # Adam's moments were restored too


def mlp_with(regularizer, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(16, "relu", kernel_regularizer=regularizer),
                             keras.layers.Dense(10, kernel_regularizer=regularizer)], name="s")


def test_the_students_regularizers_are_trained_on_and_logged(batch):
    x, y = batch
    inputs = {"pixels": x, "teacher_logits": teacher_logits_for(x)}
    c, rate = 0.01, 0.1
    plain, regularized = Distiller(student=mlp_with(None)), Distiller(student=mlp_with(keras.regularizers.L2(c)))
    for distiller in (plain, regularized):
        distiller.compile(keras.optimizers.SGD(rate), temperature=3.0, lambda_=0.5)
    before = regularized.student.get_weights()  # the same as plain's: same seed
    logs_plain = plain.train_on_batch(inputs, y, return_dict=True)
    logs = regularized.train_on_batch(inputs, y, return_dict=True)
    penalty = c * sum(np.sum(k.astype(np.float64) ** 2) for k in before[::2])  # kernels, before the step
    assert logs["loss"] == pytest.approx(logs_plain["loss"] + penalty, rel=1e-5)
    assert logs["student_loss"] == pytest.approx(logs_plain["student_loss"], rel=1e-6)
    # SGD on + c * |W|^2 moves each kernel by a further -rate * 2c * W; biases are not regularized.
    for i, (w, a, b) in enumerate(zip(before, plain.student.get_weights(), regularized.student.get_weights())):
        expected = -rate * 2 * c * w if i % 2 == 0 else np.zeros_like(w)
        np.testing.assert_allclose(b - a, expected, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("cached", [False, True])
def test_mixed_float16_scales_the_loss_and_unscales_the_gradients(batch, cached):
    x, y = batch

    def first_step(policy):
        keras.config.set_dtype_policy(policy)
        try:
            keras.utils.set_random_seed(0)
            student, teacher = models.mlp((16,), "s"), models.mlp((16,), "t")
            distiller = Distiller(student=student, teacher=None if cached else teacher)
            distiller.compile(keras.optimizers.SGD(0.1), temperature=3.0, lambda_=0.5)
            before = student.get_weights()
            distiller.train_on_batch({"pixels": x, "teacher_logits": teacher(x).numpy()} if cached else x, y)
            return distiller.optimizer, [b - a for a, b in zip(before, student.get_weights())]
        finally:
            keras.config.set_dtype_policy("float32")

    _, steps = first_step("float32")
    optimizer, mixed_steps = first_step("mixed_float16")
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    for step, mixed in zip(steps, mixed_steps, strict=True):  # unscaled, the step would be 2^15 times too small
        assert np.linalg.norm(mixed - step) < 0.02 * np.linalg.norm(step)


def weighted_distiller():
    keras.utils.set_random_seed(0)
    distiller = Distiller(student=models.mlp((16,), "s"))
    # As with Model.compile, weighted_metrics (not metrics) weigh by sample_weight.
    distiller.compile(keras.optimizers.SGD(0.1), weighted_metrics=["accuracy"], temperature=4.0, lambda_=0.5)
    return distiller


def test_sample_weight_weighs_each_example(batch):
    # Weights 2 on the first half and 0 on the second: sum(w * loss) / 64 is the first half's mean loss.
    x, y = batch
    v, half = teacher_logits_for(x), len(x) // 2
    weights = np.r_[np.full(half, 2.0), np.zeros(half)].astype(np.float32)
    weighted, first_half = weighted_distiller(), weighted_distiller()
    logs = weighted.train_on_batch({"pixels": x, "teacher_logits": v}, y, sample_weight=weights, return_dict=True)
    expected = first_half.train_on_batch({"pixels": x[:half], "teacher_logits": v[:half]}, y[:half],
                                         return_dict=True)
    assert logs == pytest.approx(expected, rel=1e-5)  # the losses and the accuracy
    for a, b in zip(first_half.student.get_weights(), weighted.student.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    evaluated = weighted.evaluate({"pixels": x, "teacher_logits": v}, y, sample_weight=weights, verbose=0,
                                  return_dict=True)
    assert evaluated == pytest.approx(first_half.evaluate({"pixels": x[:half], "teacher_logits": v[:half]}, y[:half],
                                                          verbose=0, return_dict=True), rel=1e-5)


def called(model):
    model(np.zeros((1, 784), np.float32))
    return model


def softmax_teachers():
    def functional(end):
        pixels = keras.Input((784,))
        return keras.Model(pixels, end(keras.layers.Dense(10)(pixels)), name="functional")

    return {
        "Dense(softmax)": lambda: keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, "softmax")]),
        "Softmax layer": lambda: keras.Sequential([keras.Input((784,)), keras.layers.Dense(10), keras.layers.Softmax()]),
        "built by a call": lambda: called(keras.Sequential([keras.layers.Dense(10, activation="softmax")])),
        "ops.softmax": lambda: functional(keras.ops.softmax),
        "Activation": lambda: functional(keras.layers.Activation("softmax")),
    }


@pytest.mark.parametrize("name", list(softmax_teachers()))
def test_a_teacher_that_outputs_probabilities_is_refused(name):
    with pytest.raises(ValueError, match="the teacher must output logits") as refused:
        Distiller(student=models.student(), teacher=softmax_teachers()[name]())
    assert "\n" not in str(refused.value)


def named_inputs_mlp(name, seed):
    keras.utils.set_random_seed(seed)
    inputs = {"image": keras.Input((784,), name="image"), "hint": keras.Input((3,), name="hint")}
    hidden = keras.layers.Dense(8, "relu")(keras.layers.Concatenate()([inputs["image"], inputs["hint"]]))
    return keras.Model(inputs, keras.layers.Dense(10)(hidden), name=name)


def test_a_student_with_named_inputs_learns_from_a_live_teacher(batch):
    x, y = batch
    inputs = {"image": x, "hint": np.random.default_rng(3).normal(size=(len(x), 3)).astype(np.float32)}
    student, teacher = named_inputs_mlp("s", 0), named_inputs_mlp("t", 1)
    z, v = student(inputs).numpy(), teacher(inputs).numpy()
    distiller = Distiller(student=student, teacher=teacher)
    distiller.compile(keras.optimizers.SGD(0.1), temperature=3.0, lambda_=0.5)
    np.testing.assert_allclose(distiller.predict(inputs, verbose=0), z, rtol=1e-5, atol=1e-6)
    logs = distiller.train_on_batch(inputs, y, return_dict=True)
    assert logs["loss"] == pytest.approx(float(distillation_loss(y, z, v, 3.0, 0.5)), rel=1e-5)


def test_each_shifted_view_is_taught_by_that_views_logits():
    # view_logits are the student's own logits for each view: with the soft term alone at T = 1, the gradient is
    # zero exactly where each image's view and its logits are the same view, and the loss is their entropy.
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(-1, 1, (64, 784)).astype(np.float32)
    student = models.mlp((8,), "s")
    views = np.stack([student(augment.view(x, k)).numpy() for k in range(len(augment.VIEWS))], axis=1)
    distiller = Distiller(student=student, seed=5)
    distiller.compile(keras.optimizers.SGD(1.0), temperature=1.0, lambda_=1.0, hard_labels=False)
    drawn = augment.random_views(len(x), keras.random.SeedGenerator(5)).numpy()  # the step's first draw
    before = student.get_weights()
    logs = distiller.train_on_batch({"pixels": x, "view_logits": views}, np.zeros(len(x)), return_dict=True)
    p = keras.ops.convert_to_numpy(keras.ops.softmax(views[np.arange(len(x)), drawn]))
    assert logs["loss"] == pytest.approx(-np.mean(np.sum(p * np.log(p), axis=1)), rel=1e-5)
    assert len(set(drawn)) > 10  # many views drawn, not just the centre
    for a, b in zip(before, student.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, atol=1e-5)


@pytest.mark.parametrize("taught_by", ["teacher_logits", "view_logits"])
def test_an_xla_compiled_step_equals_the_plain_one(batch, taught_by):
    # Real runs compile with XLA (config.jit_compile); the --quick smoke test and the other tests do not, so this
    # is where the compiled train_step (the random view of each image included) is checked against the plain one.
    x, y = batch
    targets = np.random.default_rng(1).normal(size=(64, 25, 10) if taught_by == "view_logits" else (64, 10))
    runs = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        distiller = Distiller(student=models.mlp((32,), "s"), seed=3)
        distiller.compile(keras.optimizers.SGD(0.1), temperature=3.0, lambda_=0.5, jit_compile=jit)
        logs = distiller.fit({"pixels": x, taught_by: targets.astype(np.float32)}, y, batch_size=16, epochs=2,
                             shuffle=False, verbose=0).history
        runs.append((logs["loss"], distiller.student.get_weights()))
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-4)
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
