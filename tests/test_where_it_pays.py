import dataclasses
import json

import keras
import numpy as np
import pytest

from distiller import keys, models, per_seed, report, stages
from distiller.artifacts import save
from distiller.cache import TeacherLogits
from distiller.config import Config
from distiller.models import logits
from distiller.paper_teacher import paper_teacher_key
from distiller.stages import digits78, fractions, paper, widths
from tests.conftest import tiny_splits

# XLA off: these check what the stages do, and a compile per tiny model cost 40 s (the quick runs use XLA).
CONFIG = Config(epochs=1, batch_size=64, seeds=2, fractions=(0.1, 1.0), widths=(8,), temperatures=(2.0, 4.0),
                jit_compile=False)


@pytest.fixture(scope="module")
def setup():
    data = tiny_splits()
    keras.utils.set_random_seed(0)
    teacher = models.teacher()
    train, val = logits(teacher, data.train[0]), logits(teacher, data.val[0])
    return data, TeacherLogits(train, val, id=keys.array_digest(train))


def test_repeat_to_gives_a_small_set_as_many_rows_as_the_full_one():
    x, y = np.arange(7), np.arange(7) * 10
    rx, ry = per_seed.repeat_to((x, y), 20)
    assert len(rx) == 21 and list(rx[:7]) == list(x) and list(ry[14:]) == list(y)


def test_paper_teacher_regularizes_only_in_training():
    keras.utils.set_random_seed(0)
    teacher = models.paper_teacher(max_norm=1.0)
    assert teacher.count_params() == models.teacher().count_params()
    x = np.random.default_rng(0).normal(size=(8, 784)).astype(np.float32)
    np.testing.assert_array_equal(teacher(x, training=False), teacher(x, training=False))
    assert not np.allclose(teacher(x, training=True), teacher(x, training=False))
    teacher.compile(keras.optimizers.SGD(10.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, np.arange(8), epochs=1, verbose=0)  # a huge step, then the constraint
    for layer in ("hidden1", "hidden2", "logits"):
        assert np.linalg.norm(teacher.get_layer(layer).kernel.numpy(), axis=0).max() <= 1.0 + 1e-5


def test_fractions_use_the_first_n_images_and_their_own_teacher_logits(setup, monkeypatch):
    data, soft = setup
    seen = []

    def spy(student, train, val, teacher_logits, config, **kwargs):  # a distillation run's transfer set
        seen.append((train, teacher_logits[0]))

    monkeypatch.setattr(per_seed, "distil", spy)
    monkeypatch.setattr(per_seed, "train_on_labels", lambda *args, **kwargs: None)
    result = fractions.transfer_fractions(CONFIG, data, soft, log=lambda *_: None)
    assert [r["images"] for r in result.values()] == [60, 600]
    (x, y), v = seen[0]  # 10%: the first 60 images, tiled to the full 600 rows, with their own logits
    assert len(x) == 600
    np.testing.assert_array_equal(y[:60], data.train[1][:60])
    np.testing.assert_array_equal(x[:60], data.train[0][:60])
    np.testing.assert_array_equal(x[60:120], data.train[0][:60])
    np.testing.assert_array_equal(v[:60], soft[0][:60])


def test_paired_runs_count_errors_per_seed_and_start_from_the_same_weights(setup, monkeypatch):
    data, soft = setup
    started = {"plain": [], "distilled": []}  # per run, in order: its student and its weights as training starts

    def spy(kind, training):
        def starting(student, *args, **kwargs):
            started[kind].append((student, [w.copy() for w in student.get_weights()]))
            return training(student, *args, **kwargs)

        return starting

    monkeypatch.setattr(per_seed, "train_on_labels", spy("plain", per_seed.train_on_labels))
    monkeypatch.setattr(per_seed, "distil", spy("distilled", per_seed.distil))
    result = per_seed.paired(CONFIG, data, soft, (16, 16), [0, 1])
    for kind in ("plain", "distilled"):  # a run's count is its own trained student's test errors
        assert result[kind] == [per_seed.test_errors(student, data) for student, _ in started[kind]]
    (plain0, plain1), (distilled0, distilled1) = ([w for _, w in started[kind]] for kind in ("plain", "distilled"))
    for plain, distilled in ((plain0, distilled0), (plain1, distilled1)):  # a seed's pair: the same start
        for a, b in zip(plain, distilled, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(plain0, plain1, strict=True))  # another seed, another start


def test_small_students_report_every_temperature(setup):
    data, soft = setup
    result = widths.small_students(CONFIG, data, soft, log=lambda *_: None)
    assert list(result["8"]["distilled"]) == ["2.0", "4.0"] and len(result["8"]["plain"]) == 2


def test_7_and_8_transfer_set_and_bias_chosen_on_validation(setup, monkeypatch, tmp_path):
    data, soft = setup
    labels_seen = []
    real_distil = digits78.distil

    def spy(student, train, *args, **kwargs):
        labels_seen.append(np.unique(train[1]))
        return real_distil(student, train, *args, **kwargs)

    monkeypatch.setattr(digits78, "distil", spy)
    first = digits78.digits_7_and_8(CONFIG, data, soft, tmp_path, log=lambda *_: None)
    assert list(labels_seen[0]) == [7, 8]
    shuffled = tiny_splits(test_labels=lambda y: np.random.default_rng(3).permutation(y))
    second = digits78.digits_7_and_8(CONFIG, shuffled, soft, tmp_path, log=lambda *_: None)
    assert second["bias"] == first["bias"] <= 0 and second["curve"] == first["curve"]


def runs(*errors):
    return [{"errors": e, "val_errors": 40, "val_nll": 0.02, "agreement": 0.99, "kl": 0.01} for e in errors]


def test_report_renders_every_experiment(tmp_path):
    section = lambda result: {"date": "2026-11-27", "machine": "test", "config": dataclasses.asdict(CONFIG),
                              "result": result}
    results = {
        "paper": section({"teacher": {"errors": 70, "val_errors": 38}, "seeds": [0, 1], "paper": paper.PAPER,
                          "chosen": {"800 fixed": "T=20, lambda=1, 60 epochs", "800 consistent": "300 epochs",
                                     "600 consistent": "150 epochs"},
                          "rows": {"800": {"plain": runs(150, 160), "fixed": runs(100, 104),
                                           "plain_jitter": runs(90, 92), "consistent": runs(60, 62)},
                                   "600": {"plain": runs(150, 152), "consistent": runs(66, 66)}},
                          "candidates": {"800 fixed": {"T=20, lambda=1, 60 epochs": {"val_nll": 0.0201,
                                                                                     "val_errors": [40, 41]}}}}),
        "fractions": section({"0.01": {"images": 550, "plain": [1258, 1300], "distilled": [709, 700]},
                              "1.0": {"images": 55000, "plain": [150, 152], "distilled": [140, 150]}}),
        "widths": section({"30": {"plain": [400, 410], "distilled": {"2.0": [350, 360], "4.0": [340, 330]}}}),
        "digits78": section({"error_percent": 40.0, "shifted_error_percent": 10.0, "bias": -7.0,
                             "curve": {"bias": [0, -7], "val_errors": [2000, 500]}}),
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    text = report.write(tmp_path, stages.modules())
    assert ("| 800-800 | distilled, no translations (the paper's protocol) | T=20, lambda=1, 60 epochs | "
            "102.0 +- 2.8 | 100, 104 | -53.0 +- 4.2 | 99.00% | 0.0100 | 74 |") in text
    assert "| 800-800 | plain, same jitter (control) | 300 epochs | 91.0 +- 1.4 | 90, 92 | -64.0 +- 5.7 |" in text
    assert "- 800-800 distilled, consistent views: 61.0 test errors against a target of at most 60: **missed by 1.0**." in text
    assert "- 600-600 distilled, consistent views: 66.0 test errors against a target of at most 67: met." in text
    assert "2 seed(s), epochs per row, batch" in text
    assert "- 800 fixed: **T=20, lambda=1, 60 epochs** (T=20, lambda=1, 60 epochs: NLL 0.0201, errors 40, 41)" in text
    assert "| 1% | 550 | 1279.0 +- 29.7 | 704.5 +- 6.4 |" in text
    assert "| 30-30 | 405.0 +- 7.1 | 355.0 +- 7.1 | 335.0 +- 7.1 |" in text
    assert "| biases lowered (b chosen on validation) | 10.0% | -7 |" in text
    assert (tmp_path / "fractions.png").is_file() and (tmp_path / "widths.png").is_file()


def test_distil_from_paper_uses_the_paper_teacher_and_its_own_sections(setup, tmp_path, monkeypatch):
    data, soft = setup
    keras.utils.set_random_seed(1)  # an untrained paper teacher, saved under the key the stage asks for
    config = dataclasses.replace(CONFIG, distil_from="paper")
    save(models.paper_teacher(), tmp_path, "paper_teacher", config, {}, paper_teacher_key(config, data))
    used = {}

    def spy(config, data, teacher_logits, out, log, name, progress=None):
        used.update(logits=teacher_logits, name=name)
        return {"error_percent": 1.0, "shifted_error_percent": 0.5, "bias": -1.0, "curve": {}}

    monkeypatch.setattr(digits78, "digits_7_and_8", spy)
    from distiller import experiments

    lines = []
    for source in ("teacher", "paper"):
        ctx = experiments.Context(dataclasses.replace(CONFIG, distil_from=source), data, tmp_path, lines.append)
        ctx.made["teacher_logits"] = soft  # the make-run teacher's, as the teacher stage would have left them
        experiments.run_stages(ctx, ["digits78"])
        paper_soft = logits(models.load(tmp_path / "paper_teacher.keras"), data.train[0])
        expected = soft[0] if source == "teacher" else paper_soft
        np.testing.assert_allclose(used["logits"][0], expected, rtol=1e-5, atol=1e-5)
    assert used["name"] == "student_78_shifted_from_paper_teacher"
    assert any(line.startswith("Paper teacher: reusing") for line in lines), lines  # the saved one, not a new one
    results = json.loads((tmp_path / "results.json").read_text())
    assert {"digits78", "digits78_from_paper_teacher"} <= set(results)  # the make-run section is kept
    assert "Student 800-800, from the paper's regularized teacher" in report.write(tmp_path, stages.modules())
