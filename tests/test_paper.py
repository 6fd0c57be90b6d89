"""`python train.py paper`: every choice made on validation over every seed before a test number is shown, the
rows of a width and seed paired, the control as long as the chosen consistent row, and a new teacher retraining
every row."""

import dataclasses
import json
import re

import numpy as np

from distiller import experiments, report, resume
from distiller.config import Config
from distiller.experiments import Context
from distiller.stages import paper
from tests.conftest import blocks, plant_paper_teacher

CONFIG = Config(epochs=1, batch_size=32, learning_rate=3e-3, jit_compile=False, steps_per_execution=1, paper_seeds=2,
                paper_epochs=(1, 2), paper_fixed=((20.0, 1.0, 1), (3.0, 0.5, 2)))


def small(monkeypatch):
    """8-8 and 4-4 students stand in for 800-800 and 600-600: the same rows, a fraction of the time."""
    monkeypatch.setattr(paper, "WIDTHS", {8: paper.WIDTHS[800], 4: paper.WIDTHS[600]})
    monkeypatch.setattr(paper, "TARGETS", {("8", "consistent"): 60, ("4", "consistent"): 67, ("8", "fixed"): 74})


def test_choices_are_made_on_validation_over_every_seed_and_the_log_shows_no_test_number_before(tmp_path, monkeypatch):
    small(monkeypatch)
    # Spy on what each unit was trained with: (width, kind, seed, epochs, first initial kernel)
    trained, train = [], paper.Runs.train
    monkeypatch.setattr(paper.Runs, "train", lambda self, c, w, kind, seed, *a: trained.append(
        (w, kind, seed, c.epochs)) or train(self, c, w, kind, seed, *a))
    first = {}  # (units, seed) -> the first kernel of every student made
    new_student = paper.new_student
    monkeypatch.setattr(paper, "new_student", lambda units, seed: (student := new_student(units, seed)) and (
        first.setdefault((units, seed), []).append(student.get_weights()[0].copy()) or student))
    config, data = dataclasses.replace(CONFIG, out_dir=str(tmp_path)), blocks((300, 200))
    plant_paper_teacher(config, data, tmp_path, units=(64,), fit=True)
    monkeypatch.setattr(paper, "TARGETS", {("8", "consistent"): -1, ("4", "consistent"): 10_000, ("8", "fixed"): 74})
    monkeypatch.setattr(experiments, "prepare_data", lambda *_: data)
    lines = []
    text = experiments.run(config, ["paper"], log=lines.append)  # as `python train.py paper` runs it
    result = json.loads((tmp_path / "results.json").read_text())["paper"]["result"]
    assert not (tmp_path / "teacher.keras").exists()  # the assignment's Teacher is not trained for this stage
    assert (tmp_path / "progress" / "paper.json").is_file()  # its finished units outlive it

    chosen_at = next(i for i, line in enumerate(lines) if line.startswith("Paper: chosen on validation"))
    assert not any("test errors" in line for line in lines[:chosen_at]), lines
    assert any("validation errors" in line for line in lines[:chosen_at])
    for row, candidates in result["candidates"].items():  # the lowest mean validation NLL over both seeds
        assert len(next(iter(candidates.values()))["val_errors"]) == 2
        assert result["chosen"][row] == min(candidates, key=lambda name: candidates[name]["val_nll"])
    rows = result["rows"]
    assert {w: list(r) for w, r in rows.items()} == {"8": list(paper.KINDS), "4": ["plain", "consistent"]}
    assert all(len(runs) == 2 for r in rows.values() for runs in r.values())
    epochs = int(result["chosen"]["8 consistent"].split()[0])
    assert sorted(e for w, kind, _, e in trained if kind == "plain_jitter") == [epochs, epochs]  # as long
    # 2 seeds x (2 plain + 2 fixed candidates + 2x2 consistent candidates + 1 control)
    assert len(trained) == 2 * 9 and len(set(trained)) == 2 * 9
    assert sorted(first) == [((4, 4), 0), ((4, 4), 1), ((8, 8), 0), ((8, 8), 1)]
    for kernels in first.values():  # paired: the same initial weights in every row of a width and seed
        assert all(np.array_equal(kernels[0], k) for k in kernels)
    assert not np.array_equal(first[(8, 8), 0][0], first[(8, 8), 1][0])  # another seed, other weights

    assert re.search(r"\| 8-8 \| distilled, consistent views \| \d epochs \| [\d.]+ \+- [\d.]+ \|", text)
    assert f"**{result['chosen']['8 fixed']}**" in text
    consistent = np.mean([r["errors"] for r in rows["8"]["consistent"]])
    assert f"- 8-8 distilled, consistent views: {consistent:.1f} test errors against a target of at most -1: " \
           f"**missed by {consistent + 1:.1f}**." in text
    assert "against a target of at most 10000: met." in text
    assert f"Students trained on: {report.machine()} (12 of 12)." in text  # 6 rows x 2 seeds
    assert result["time"]["units"] == result["time"]["timed"] == 18 and result["time"]["seconds"] > 0
    assert re.search(r"Training time: \d+ (s|min \d+ s) for its 18 units\.", text)


def test_the_run_time_estimates_units_finished_before_seconds_were_recorded():
    runs = paper.Runs(CONFIG, None, None, None)
    runs.timings = {"a": (100.0, 10), "b": (200.0, 20), "c": (None, 30)}  # 10 s per unit of work, timed
    assert runs.time() == {"seconds": 600, "units": 3, "timed": 2}
    assert paper.time_lines({"time": runs.time()}) == [
        ("Training time: 10 min 0 s for its 3 units (1 unit(s) finished before their seconds were recorded: "
         "estimated at the others' seconds per epoch and parameter).")]


def test_a_section_of_the_former_paper_stage_still_renders():
    old = {"result": {"teacher": 80, "settings": {}, "800": {"plain": [150]}}, "config": dataclasses.asdict(CONFIG),
           "date": "DATE", "machine": "M"}
    assert "older code" in report.render({"paper": old}, [paper])


def test_another_teacher_reruns_every_row_even_those_trained_without_it(tmp_path, monkeypatch):
    """The plain rows never see the teacher but report agreement with it: kept units of an earlier teacher
    must not be reused for a new one."""
    monkeypatch.setattr(paper, "WIDTHS", {8: paper.WIDTHS[800]})  # one width is enough here
    trained, train = [], paper.Runs.train
    monkeypatch.setattr(paper.Runs, "train", lambda self, c, w, kind, *a: trained.append(kind) or train(
        self, c, w, kind, *a))
    config = dataclasses.replace(CONFIG, out_dir=str(tmp_path), paper_seeds=1, paper_epochs=(1,),
                                 paper_fixed=((20.0, 1.0, 1),))
    data = blocks((200, 100))

    def run_with_teacher(seed):
        plant_paper_teacher(config, data, tmp_path, seed=seed)  # a stand-in net, under the key the stage asks for
        trained.clear()
        paper.run(Context(config, data, tmp_path, log=lambda *_: None), resume.Units(tmp_path, "paper", keep=True))
        return sorted(trained)

    every_row = sorted(["plain", "fixed", "consistent", "plain_jitter"])
    assert run_with_teacher(0) == every_row
    assert run_with_teacher(0) == []  # the same teacher: every unit reused
    assert run_with_teacher(1) == every_row  # plain and plain_jitter too
