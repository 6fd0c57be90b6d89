"""A run with fewer seeds than the students section it replaces (`make run` after `python train.py --seeds 3`) keeps
the other seeds when their records carry this run's keys, and replaces them when made otherwise: on synthetic
sections whose keys are the students stage's own (student_rows.row_key), no training."""

import dataclasses
import json
from types import SimpleNamespace

import pytest

from distiller import kept_seeds, keys, report, student_rows
from distiller.config import Config
from distiller.stages import students
from tests.conftest import tiny_splits

CONFIG = Config(seeds=3)
DATA = tiny_splits()
TEACHER_LOGITS = SimpleNamespace(id="0123456789abcdef")  # what row_key reads of a cache.TeacherLogits


def digests(config, seed):
    """{row: digest of the key} the students stage gives `seed`'s Student and Student2.0 under `config`."""
    rows = {"student": student_rows.Row(config), "student_kd": student_rows.Row(student_rows.kd_config(config), TEACHER_LOGITS)}
    return {name: keys.digest(student_rows.row_key(r, DATA, seed)) for name, r in rows.items()}


def records(config, errors):
    """{row: [record per seed]}: errors[row][i] test errors for seed i, keyed as `config` would key them."""
    return {row: [{"parameters": 837610, "accuracy": 1 - e / 10_000, "errors": e, "errors_on_3": 1, "seconds": 9.0,
                   "seed": seed, "key": digests(config, seed)[row], "teacher": None, "epochs": 20}
                  for seed, e in enumerate(counts)] for row, counts in errors.items()}


def section(config, errors, command, kept=()):
    runs = records(config, errors)
    result = {"paper_teacher": {"errors": 72}, **runs, "statistics": students.seed_statistics(runs, 72)}
    return json.loads(json.dumps({"date": "2026-12-02", "machine": "2 CPU cores", "config": dataclasses.asdict(config),
                                  "command": command, "commit": "70b71e47c180",
                                  "result": {**result, **({"kept": list(kept)} if kept else {})}}))


THREE_SEEDS = {"student": [150, 155, 148], "student_kd": [76, 71, 76]}


def test_a_one_seed_run_keeps_seeds_1_and_2_made_with_its_keys_and_says_so_in_one_line():
    old, lines = section(CONFIG, THREE_SEEDS, "python train.py --seeds 3"), []
    one_seed = dataclasses.replace(CONFIG, seeds=1)
    new = records(one_seed, {"student": [156], "student_kd": [75]})  # seed 0 again, on another processor
    merged, kept = kept_seeds.keep(old, new, lambda seed: digests(one_seed, seed), lines.append)
    assert [r["errors"] for r in merged["student"]] == [156, 155, 148]  # this run's seed 0, the earlier 1 and 2
    assert [r["seed"] for r in merged["student_kd"]] == [0, 1, 2]
    assert merged["student_kd"][1:] == old["result"]["student_kd"][1:]
    assert kept == [{"seeds": [1, 2], "date": "2026-12-02", "command": "python train.py --seeds 3",
                     "commit": "70b71e47c180"}]
    assert len(lines) == 1 and "kept the earlier results' seeds 1, 2" in lines[0] and "trained seed 0" in lines[0]
    assert students.seed_statistics(merged, 72)["student"]["mean"] == pytest.approx((156 + 155 + 148) / 3)


@pytest.mark.parametrize("made", ["other settings", "older code, without keys"])
def test_seeds_made_otherwise_are_replaced_and_the_line_says_why(made):
    earlier = dataclasses.replace(CONFIG, kd_epochs=60)  # Student2.0 of another length: other keys
    old, lines = section(earlier, THREE_SEEDS, "python train.py --seeds 3"), []
    if made == "older code, without keys":
        old = section(CONFIG, THREE_SEEDS, "python train.py --seeds 3")
        for runs in (old["result"]["student"], old["result"]["student_kd"]):
            for r in runs:
                del r["key"]
    one_seed = dataclasses.replace(CONFIG, seeds=1)
    new = records(one_seed, {"student": [150], "student_kd": [76]})
    merged, kept = kept_seeds.keep(old, new, lambda seed: digests(one_seed, seed), lines.append)
    assert merged == new and kept == []
    assert len(lines) == 1 and "replaced the earlier results' seeds 1, 2" in lines[0]
    assert "keys differ" in lines[0]


def test_a_run_with_as_many_seeds_or_no_earlier_section_logs_nothing():
    lines = []
    new = records(CONFIG, THREE_SEEDS)
    old = section(dataclasses.replace(CONFIG, kd_epochs=60), THREE_SEEDS, "python train.py --seeds 3")
    for earlier in (None, old):
        assert kept_seeds.keep(earlier, new, lambda seed: digests(CONFIG, seed), lines.append) == (new, [])
    assert lines == []


def test_the_same_records_leave_the_section_as_the_three_seed_run_wrote_it(tmp_path):
    report.update(tmp_path, "students", CONFIG, section(CONFIG, THREE_SEEDS, "")["result"])
    before = json.loads((tmp_path / "results.json").read_text())["students"]
    one_seed = dataclasses.replace(CONFIG, seeds=1)
    new = records(one_seed, {"student": [150], "student_kd": [76]})  # make run reused seed 0's saved models
    merged, kept = kept_seeds.keep(before, new, lambda seed: digests(one_seed, seed), lambda _: None)
    report.update(tmp_path, "students", one_seed, {"paper_teacher": {"errors": 72}, **merged,
                                                   "statistics": students.seed_statistics(merged, 72),
                                                   **({"kept": kept} if kept else {})})
    assert json.loads((tmp_path / "results.json").read_text())["students"] == before  # its config: 3 seeds


def test_kept_seeds_keep_the_run_that_made_them_across_runs_and_the_report_names_it():
    two_seeds = dataclasses.replace(CONFIG, seeds=2)
    earlier = [{"seeds": [2], "date": "2026-12-01", "command": "python train.py --seeds 3", "commit": "aaaa"}]
    old = section(two_seeds, THREE_SEEDS, "python train.py --seeds 2", kept=earlier)
    one_seed = dataclasses.replace(CONFIG, seeds=1)
    new = records(one_seed, {"student": [156], "student_kd": [75]})
    merged, kept = kept_seeds.keep(old, new, lambda seed: digests(one_seed, seed), lambda _: None)
    assert kept == [{"seeds": [1], "date": "2026-12-02", "command": "python train.py --seeds 2",
                     "commit": "70b71e47c180"}, *earlier]
    result = {"paper_teacher": {"errors": 72}, **merged, "statistics": students.seed_statistics(merged, 72),
              "kept": kept}
    text = "\n".join(students.render({**old, "config": dataclasses.asdict(one_seed), "result": result}))
    assert "over 3 seed(s)" in text and "seed 0, 3 seed(s)" in text
    assert "seed 1 by `python train.py --seeds 2` at commit 70b71e47c180" in text
    assert "seed 2 by `python train.py --seeds 3` at commit aaaa" in text


# --- whole sections: the stages with SEEDS keep an earlier section with more seeds (kept_seeds.place) -------------

def widths_result(seeds):
    """A widths section's result with `seeds` runs per cell (the stage's shape: report.update and render only)."""
    runs = lambda base: [base + i for i in range(seeds)]
    return {"30": {"plain": runs(150), "distilled": {"2.0": runs(100), "20.0": runs(120)}}}


def written(tmp_path):
    return json.loads((tmp_path / "results.json").read_text())


def update(tmp_path, config, result, lines=None):
    report.update(tmp_path, "widths", config, result, (lines if lines is not None else []).append, seeds="seeds")


def test_every_multi_seed_stage_names_the_config_field_that_counts_its_seeds():
    from distiller import stages

    declared = {stage.NAME: stage.SEEDS for stage in stages.modules() if hasattr(stage, "SEEDS")}
    assert declared == {"small_transfer": "seeds", "paper": "paper_seeds", "fractions": "seeds", "widths": "seeds",
                        "protocol": ("protocol_refit_seeds", "protocol_make_run_seeds")}
    fields = [f for seeds in declared.values() for f in ((seeds,) if isinstance(seeds, str) else seeds)]
    assert all(isinstance(getattr(CONFIG, field), int) for field in fields)


def test_fields_added_to_config_since_and_flags_that_decide_no_number_are_not_other_settings(tmp_path):
    update(tmp_path, CONFIG, widths_result(3))
    results = written(tmp_path)
    del results["widths"]["config"]["protocol_make_run_seeds"], results["widths"]["config"]["lr_decay"]  # older code
    (tmp_path / "results.json").write_text(json.dumps(results))
    lines = []
    update(tmp_path, dataclasses.replace(CONFIG, seeds=1, retrain=True, lr_decay=0.5, paper_teacher="t.keras"),
           widths_result(1), lines)
    assert list(written(tmp_path)) == ["widths", "widths, seeds=1"] and "kept the earlier section" in lines[0]


def test_a_stage_with_two_seed_counts_keeps_its_section_when_either_is_fewer(tmp_path):
    seeds = ("protocol_refit_seeds", "protocol_make_run_seeds")
    report.update(tmp_path, "protocol", CONFIG, {"rows": 3}, seeds=seeds)
    fewer = dataclasses.replace(CONFIG, protocol_make_run_seeds=1)
    report.update(tmp_path, "protocol", fewer, {"rows": 1}, seeds=seeds)
    assert written(tmp_path)["protocol"]["result"] == {"rows": 3}
    assert written(tmp_path)["protocol, seeds=3"]["result"] == {"rows": 1}  # named by the refit's seeds


def test_a_run_with_fewer_seeds_and_the_same_settings_goes_beside_the_section_with_one_line(tmp_path):
    update(tmp_path, CONFIG, widths_result(3))  # 3 seeds
    before, lines = written(tmp_path)["widths"], []
    one_seed = dataclasses.replace(CONFIG, seeds=1, out_dir="elsewhere", data_dir="mnist")  # folders: no setting
    update(tmp_path, one_seed, widths_result(1), lines)
    results = written(tmp_path)
    assert results["widths"] == before  # untouched: its date, config and numbers
    assert list(results) == ["widths", "widths, seeds=1"]
    assert results["widths, seeds=1"]["result"] == widths_result(1)
    assert results["widths, seeds=1"]["config"]["seeds"] == 1
    assert len(lines) == 1 and "kept the earlier section" in lines[0] and '"widths, seeds=1"' in lines[0]


def test_a_run_with_fewer_seeds_and_other_settings_replaces_the_section_and_names_what_differs(tmp_path):
    update(tmp_path, CONFIG, widths_result(3))
    lines = []
    update(tmp_path, dataclasses.replace(CONFIG, seeds=1, epochs=CONFIG.epochs + 1, lambda_=7.0), widths_result(1),
           lines)
    results = written(tmp_path)
    assert list(results) == ["widths"] and results["widths"]["result"] == widths_result(1)
    assert len(lines) == 1 and "other settings (epochs, lambda_)" in lines[0]


def test_the_paper_stage_counts_paper_seeds_and_ignores_the_other_seed_counts(tmp_path):
    report.update(tmp_path, "paper", CONFIG, {"rows": 3}, seeds="paper_seeds")
    lines = []
    fewer = dataclasses.replace(CONFIG, paper_seeds=1, seeds=CONFIG.seeds + 1)  # --seeds does not change the stage
    report.update(tmp_path, "paper", fewer, {"rows": 1}, lines.append, seeds="paper_seeds")
    assert written(tmp_path)["paper"]["result"] == {"rows": 3}
    assert written(tmp_path)["paper, seeds=1"]["result"] == {"rows": 1} and len(lines) == 1


def test_as_many_seeds_or_more_replace_the_section_and_drop_those_set_beside_it(tmp_path):
    update(tmp_path, CONFIG, widths_result(3))
    update(tmp_path, dataclasses.replace(CONFIG, seeds=1), widths_result(1))
    update(tmp_path, dataclasses.replace(CONFIG, seeds=2, out_dir="x"), widths_result(2))
    update(tmp_path, dataclasses.replace(CONFIG, seeds=1, data_dir="y"), widths_result(1))  # fewer than the 2 beside
    assert list(written(tmp_path)) == ["widths", "widths, seeds=2", "widths, seeds=1"]
    update(tmp_path, dataclasses.replace(CONFIG, seeds=2), widths_result(2) | {"90": widths_result(2)["30"]})
    assert list(written(tmp_path)) == ["widths", "widths, seeds=2"]  # 2 seeds beside take the place of 1
    assert "90" in written(tmp_path)["widths, seeds=2"]["result"]
    lines = []
    update(tmp_path, CONFIG, widths_result(3) | {"60": widths_result(3)["30"]}, lines)  # 3 seeds again, other numbers
    results = written(tmp_path)
    assert list(results) == ["widths"] and "60" in results["widths"]["result"]
    assert len(lines) == 1 and "'widths, seeds=2'" in lines[0]
    update(tmp_path, dataclasses.replace(CONFIG, seeds=1), widths_result(1))
    update(tmp_path, dataclasses.replace(CONFIG, seeds=5), widths_result(5))  # more seeds: replaced, beside dropped
    assert list(written(tmp_path)) == ["widths"] and written(tmp_path)["widths"]["config"]["seeds"] == 5


def test_the_report_renders_a_section_set_beside_after_its_own_with_its_plot(tmp_path):
    from distiller import stages

    update(tmp_path, CONFIG, widths_result(3))
    update(tmp_path, dataclasses.replace(CONFIG, seeds=1), widths_result(1))
    text = report.write(tmp_path, stages.modules(), log=lambda _: None)
    main, beside = text.split("_Beside the section above (`widths`)")
    assert "## Small students across temperatures" in beside and "150.0 +- 0.0" in beside  # 1 seed: 150
    assert "151.0 +- 1.0" in main and "3 seed(s)" in main and "1 seed(s)" in beside
    assert "![test errors against T](widths_seeds1.png)" in beside
    assert (tmp_path / "widths.png").exists() and (tmp_path / "widths_seeds1.png").exists()
