"""`python train.py speed`: every way timed in one run and reported relative to ours as train.py runs it, and
the keras.io-style Distiller it times computing our objective."""

import dataclasses
import json

import keras
import numpy as np

from distiller import experiments
from distiller.config import Config
from distiller.losses import distillation_loss
from distiller.stages import speed
from tests.conftest import blocks

CONFIG = Config(epochs=2, batch_size=64, jit_compile=False, steps_per_execution=1)


def test_speed_times_every_way_and_reports_each_relative_to_ours(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "prepare_data", lambda *_: blocks((256, 64)))
    lines = []
    text = experiments.run(dataclasses.replace(CONFIG, out_dir=str(tmp_path)), ["speed"], log=lines.append)
    result = json.loads((tmp_path / "results.json").read_text())["speed"]["result"]
    assert not (tmp_path / "teacher.keras").exists()  # times an untrained teacher: trains none first
    assert len(result["seconds"]) == 6 and all(s > 0 for s in result["seconds"].values())
    assert result["epochs"] == 2 and result["examples"] == 256
    assert sum(line.startswith("speed: ") for line in lines) == 6  # a line per way, as it is timed
    ours = result["seconds"][speed.OURS]
    for way, seconds in result["seconds"].items():
        assert f"| {way} | {seconds:.2f} | {seconds / ours:.2f}x |" in text
    assert f"| {speed.OURS} | {ours:.2f} | 1.00x |" in text
    # 6 W multiply-adds per example (W: the 600-600 student's 837,000 weights)
    assert result["training_gflop"] == 6 * 256 * (784 * 600 + 600 * 600 + 600 * 10) / 1e9
    assert "| the limit: " in text and result["step_gflops"] > 0


def test_the_keras_io_style_distiller_computes_our_objective():
    """(a) and ours, on one batch: the same loss up to the teacher's entropy, which does not depend on the student
    (KL = CE - H), so the same gradients: the time compares like with like. ((b) weighs its terms otherwise.)"""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(32, 784)).astype(np.float32)
    y = np.arange(32) % 10
    teacher, student = (keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)]) for _ in range(2))
    z, v = student(x), teacher(x)
    p = keras.ops.softmax(v / speed.T)
    entropy = -keras.ops.mean(keras.ops.sum(p * keras.ops.log(p), axis=-1)) * speed.T**2
    ours = float(distillation_loss(y, z, v, speed.T, speed.LAMBDA))
    keras_io = float(speed.KerasIoDistiller(student, teacher).compute_loss(x, y, z))
    np.testing.assert_allclose(keras_io, ours - speed.LAMBDA * float(entropy), rtol=1e-4)  # KLDivergence clips p at 1e-7
