"""The students stage: every row of a seed starts from the same weights, each is taught by the teacher it names,
and the jittered control is there exactly when Student2.0 sees shifted views."""

import dataclasses

import numpy as np
import pytest

from distiller import resume, student_rows
from distiller.config import Config
from distiller.experiments import Context
from distiller.stages import students
from distiller.stages.teacher import run as run_teacher
from tests.conftest import plant_paper_teacher, tiny_splits

CONFIG = Config(epochs=1, kd_epochs=2, batch_size=64, steps_per_execution=1, jit_compile=False, seeds=2)


@pytest.fixture
def spied(tmp_path, monkeypatch):
    """A run's Context (Teacher trained, paper teacher planted) and what each fit was given: (row title, seed,
    first initial kernel, targets' shape or None, jitter, epochs)."""
    data, config = tiny_splits(), dataclasses.replace(CONFIG, out_dir=str(tmp_path))
    ctx = Context(config, data, tmp_path, log=lambda *_: None)
    run_teacher(ctx, resume.UNRECORDED)
    plant_paper_teacher(config, data, tmp_path, fit=True)
    fits, fit = [], student_rows.fit_student

    def spy(student, train, val, config, targets=None, jitter=False, **options):
        fits.append((options["name"], options["seed"], student.get_weights()[0].copy(),
                     None if targets is None else np.shape(targets[0]), jitter, config.epochs))
        return fit(student, train, val, config, targets, jitter, **options)

    monkeypatch.setattr(student_rows, "fit_student", spy)
    return ctx, fits


def test_every_row_of_a_seed_starts_from_the_same_weights_and_is_taught_as_it_says(spied):
    ctx, fits = spied
    result = students.run(ctx, resume.UNRECORDED)
    assert len(fits) == 8  # 4 rows x 2 seeds
    for seed in (0, 1):
        mine = [f for f in fits if f[1] == seed]
        assert all(np.array_equal(mine[0][2], f[2]) for f in mine)  # paired: the same initial weights
    assert not np.array_equal(fits[0][2], fits[4][2])  # another seed, other weights
    n = len(ctx.data.train[0])
    shapes = {name.split(" (seed")[0]: (shape, jitter, epochs) for name, _, _, shape, jitter, epochs in fits}
    assert shapes == {"Student": (None, False, 1), "Student2.0 from the Teacher": ((n, 10), False, 1),
                      "Student, jittered (control)": (None, True, 2), "Student2.0": ((n, 25, 10), False, 2)}
    assert [result[name][0]["teacher"] for name in student_rows.TITLES] == [None, "the Teacher", None,
                                                                        "the paper teacher"]
    s, errors = result["statistics"], {name: [r["errors"] for r in result[name]] for name in student_rows.TITLES}
    assert s["difference"]["student_kd"]["mean"] == pytest.approx(np.mean(errors["student_kd"]) - np.mean(errors["student"]))
    gap = np.mean(errors["student"]) - result["paper_teacher"]["errors"]
    assert s["gap_closed"] == pytest.approx((np.mean(errors["student"]) - np.mean(errors["student_kd"])) / gap)
    for name in student_rows.TITLES:  # the first seed's model of every row is saved
        assert (ctx.out / f"{name}.keras").is_file()


def test_without_shifted_views_there_is_no_control(spied):
    ctx, fits = spied
    ctx.config = dataclasses.replace(ctx.config, views="fixed", seeds=1)
    result = students.run(ctx, resume.UNRECORDED)
    assert "student_jitter" not in result and "vs_control" not in result["statistics"]
    assert [f[3] for f in fits if f[0].startswith("Student2.0 (")] == [(len(ctx.data.train[0]), 10)]


def test_a_run_with_more_seeds_reuses_the_first_seeds_saved_models_and_retrain_trains_them_anew(spied):
    ctx, fits = spied
    ctx.config = dataclasses.replace(ctx.config, seeds=1)
    first = students.run(ctx, resume.UNRECORDED)
    fits.clear()
    ctx.config = dataclasses.replace(ctx.config, seeds=2)
    more = students.run(ctx, resume.UNRECORDED)
    assert {seed for _, seed, *_ in fits} == {1}  # seed 0's four rows were loaded, not trained
    for name in student_rows.TITLES:
        assert more[name][0] == first[name][0]  # the same test record, its training time included
    fits.clear()
    ctx.config = dataclasses.replace(ctx.config, seeds=1, retrain=True)
    students.run(ctx, resume.UNRECORDED)
    assert len(fits) == 4
