"""Consistent teaching from a cache of the teacher's 25 shifted views: the cache is exact, and a student
distilled from it sees random views, reproducibly per seed."""

import dataclasses

import keras
import numpy as np
import pytest

from distiller import augment, cache, models
from distiller.config import Config
from distiller.distiller import Distiller
from distiller.experiments import Splits
from distiller.training import distil, logits, train_on_labels
from tests.conftest import plant_paper_teacher

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


def moved(x, dx, dy):
    """NumPy reference: flattened images moved right by dx and down by dy (any |d| < 28), -1 entering."""
    out = np.full((len(x), 28, 28), -1.0, np.float32)
    out[:, max(dy, 0) : 28 + min(dy, 0), max(dx, 0) : 28 + min(dx, 0)] = x.reshape(-1, 28, 28)[
        :, max(-dy, 0) : 28 - max(dy, 0), max(-dx, 0) : 28 - max(dx, 0)]
    return out.reshape(len(x), 784)


def test_the_teacher_averaged_over_9_views_is_exact(tmp_path):
    keras.utils.set_random_seed(0)
    teacher = models.mlp((32,), "teacher")
    x = np.random.default_rng(0).uniform(-1, 1, (20, 784)).astype(np.float32)
    averaged = cache.view_logits(teacher, x, tmp_path, radius=1)
    assert averaged.shape == (20, 25, 10)
    for v, (dx, dy) in enumerate(augment.VIEWS):  # view v's 9 neighbours: shifts of up to 3 pixels
        expected = np.mean([logits(teacher, moved(x, dx + a, dy + b)) for a in (-1, 0, 1) for b in (-1, 0, 1)], axis=0)
        np.testing.assert_allclose(averaged[:, v], expected, atol=1e-5)
    np.testing.assert_allclose(cache.mean_view_logits(teacher, x, 1), averaged[:, augment.CENTER], atol=1e-6)
    # Cached apart from the teacher's own views, which stay exact.
    np.testing.assert_allclose(cache.view_logits(teacher, x, tmp_path)[:, augment.CENTER], logits(teacher, x), atol=1e-5)
    assert len(list(tmp_path.glob("*.npy"))) == 2


def test_views_name_an_odd_square():
    from distiller.errors import DistillerError
    from distiller.stages import consistent

    assert [consistent.radius(v) for v in (1, 9, 25)] == [0, 1, 2]
    for views in (0, 4, 8, 10):
        with pytest.raises(DistillerError, match="odd square"):
            consistent.radius(views)


def blocks(sizes=(600, 300)):
    """Image-like toy data that survives a 2-pixel shift: class c is an 8 x 8 bright block at a place of its own."""
    rng = np.random.default_rng(0)
    centers = np.full((10, 28, 28), -1.0, np.float32)
    for c in range(10):
        row, col = 2 + 12 * (c // 5), 2 + 5 * (c % 5)
        centers[c, row : row + 8, col : col + 8] = 1.0

    def part(n):
        y = rng.integers(0, 10, n)
        return centers[y].reshape(n, 784) + rng.normal(size=(n, 784)).astype(np.float32), y

    train, val = (part(n) for n in sizes)
    return Splits(train, val, val)


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
    distiller = Distiller(models.mlp((8,), "s"))
    distiller.compile("adam", temperature=3.0, lambda_=0.5, jit_compile=False)
    with_views = distiller.evaluate({"pixels": x, "view_logits": views}, y, verbose=0, return_dict=True)
    center = distiller.evaluate({"pixels": x, "teacher_logits": views[:, augment.CENTER]}, y, verbose=0,
                                return_dict=True)
    assert with_views == center


def test_the_consistent_stage_chooses_epochs_on_validation_and_pairs_its_rows(tmp_path):
    from distiller import resume
    from distiller.experiments import Context
    from distiller.stages import consistent

    config = dataclasses.replace(CONFIG, out_dir=str(tmp_path), consistent_epochs=(1, 2), consistent_widths=(8,))
    data = blocks()
    plant_paper_teacher(config, data, tmp_path, units=(64,), fit=True)
    lines = []
    result = consistent.run(Context(config, data, tmp_path, log=lines.append), resume.Units(tmp_path, "consistent"))
    assert any(line.startswith("Paper teacher: reusing") for line in lines), lines  # the stand-in, not a new one

    candidates = {e: result["curve"]["consistent"][str(e)]["val_errors"] for e in (1, 2)}
    assert result["epochs"] == min(candidates, key=lambda e: (candidates[e], e))  # validation, not test
    rows = result["rows"]["8"]
    assert list(rows) == list(consistent.KINDS) and all(len(runs) == 1 for runs in rows.values())
    for kind in ("fixed", "consistent"):  # the curve's run at the chosen epochs is the row's first seed
        assert rows[kind][0] == result["curve"][kind][str(result["epochs"])]
    assert all(0 <= run["agreement"] <= 1 and run["kl"] >= 0 for runs in rows.values() for run in runs)
    section = {"result": result, "config": dataclasses.asdict(config), "date": "DATE", "machine": "M"}
    text = "\n".join(consistent.render(section))
    assert "| 8-8 | distilled, consistent views |" in text
    assert f"1 seed(s), {result['epochs']} epochs," in text  # the epochs the rows ran, not config.epochs (6)
    assert (f"The epochs: {result['epochs']}, the fewest validation errors of the consistent row, first seed and "
            f"width (1 epochs {candidates[1]}, 2 epochs {candidates[2]})." in text)  # what chose them, shown
    assert result["teacher"]["views"] == 1 and "views" not in text.splitlines()[0].split(";")[0]
    result["teacher"]["views"] = 9
    assert "(paper teacher over 9 views:" in consistent.render(section)[0]
    consistent.plot(result, tmp_path)
    assert (tmp_path / "consistent.png").stat().st_size > 0


def test_retrain_trains_the_paper_teacher_once_for_every_stage_that_uses_it(tmp_path, monkeypatch):
    from distiller import experiments

    monkeypatch.setattr(models, "paper_teacher", lambda name="paper_teacher": models.mlp((16,), name))  # small stand-in
    config = dataclasses.replace(CONFIG, out_dir=str(tmp_path), retrain_paper_teacher=True, paper_teacher_epochs=1,
                                 epochs=1,
                                 temperature=20.0, consistent_epochs=(1,), consistent_widths=(8,))
    lines = []
    experiments.run_stages(experiments.Context(config, blocks((200, 100)), tmp_path, lines.append),
                           ["paper", "consistent"])
    trained = [line for line in lines if line.startswith("Paper teacher: 1200-1200")]
    assert len(trained) == 1, lines


def test_another_teacher_reruns_every_row_even_those_trained_without_it(tmp_path, monkeypatch):
    """The plain rows never see the teacher but report agreement with it: kept units of an earlier teacher
    must not be reused for a new one."""
    from distiller import resume
    from distiller.experiments import Context
    from distiller.stages import consistent

    trained = []
    train = consistent.Runs.train
    monkeypatch.setattr(consistent.Runs, "train", lambda self, c, w, kind, *a: trained.append(kind) or train(
        self, c, w, kind, *a))
    config = dataclasses.replace(CONFIG, out_dir=str(tmp_path), epochs=1, consistent_epochs=(1,),
                                 consistent_widths=(8,))
    data = blocks((200, 100))

    def run_with_teacher(seed, views=1):
        plant_paper_teacher(config, data, tmp_path, seed=seed)  # a stand-in net, under the key the stage asks for
        trained.clear()
        consistent.run(Context(dataclasses.replace(config, consistent_teacher_views=views), data, tmp_path,
                               log=lambda *_: None), resume.Units(tmp_path, "consistent", keep=True))
        return sorted(trained)

    assert run_with_teacher(0) == sorted(consistent.KINDS)
    assert run_with_teacher(0) == []  # the same teacher: every unit reused
    assert run_with_teacher(1) == sorted(consistent.KINDS)  # plain and plain_jitter too
    assert run_with_teacher(1, views=9) == sorted(consistent.KINDS)  # the same net averaged over views: another teacher
    assert run_with_teacher(1, views=9) == []
