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
