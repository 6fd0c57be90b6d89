"""The report's Markdown, against a golden copy; and the quick run's report, by its structure and bounds.

tests/data/quick_results.json is the results.json of --quick runs with every stage (and --distil-from paper),
their output folder written OUT. report.render must turn it into tests/data/quick_results.md exactly: no
training, so the same on every machine. When the report's layout changes on purpose, regenerate the copy and
read its diff before committing it:

    python tests/test_report_unchanged.py                     # rewrites the .md from the stored .json
    python tests/test_report_unchanged.py OUT/results.json    # first stores that results.json as the .json

A field that later code adds to the sections is missing from the stored ones: the stored file then also checks
that results written before the field existed still render.

A training's exact counts differ between processors (float rounding), so the quick run's own report is held to
the stored one's sections and keys, and its counts to loose bounds.
"""

import json
import sys
from numbers import Number
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
GOLDEN_JSON, GOLDEN_MD = DATA / "quick_results.json", DATA / "quick_results.md"
TEST_IMAGES, TEST_THREES = 10_000, 1010  # MNIST's test set
# Whole numbers in a result that are not error counts.
NOT_COUNTS = {"parameters", "seed", "images", "n", "epochs", "members", "views", "threads", "latency_calls", "bytes",
              "images_per_second"}


def rendered(results):
    from distiller import report, stages

    return report.render(results, stages.modules())


def test_the_stored_results_render_to_the_stored_markdown():
    assert rendered(json.loads(GOLDEN_JSON.read_text())) == GOLDEN_MD.read_text()


def test_the_stored_results_cover_every_stage_and_both_teachers():
    from distiller import report, stages

    stored = json.loads(GOLDEN_JSON.read_text())
    assert {s.split(report.FROM_PAPER_TEACHER)[0] for s in stored} == set(stages.NAMES)
    assert {s for s in stored if s.endswith(report.FROM_PAPER_TEACHER)} == {
        stage.NAME + report.FROM_PAPER_TEACHER for stage in stages.modules() if getattr(stage, "DISTIL_FROM", False)}


def missing(stored, run, path="results"):
    """Where `run` lacks what `stored` has: a key, a list's length, a kind of value. Keys only `run` has are
    allowed (fields added since the copy was made); None matches anything (e.g. the seconds of a reused model)."""
    if stored is None or run is None:
        return []
    if isinstance(stored, dict) and isinstance(run, dict):
        return [p for k, v in stored.items()
                for p in ([f"{path}.{k}"] if k not in run else missing(v, run[k], f"{path}.{k}"))]
    if isinstance(stored, list) and isinstance(run, list):
        if len(stored) != len(run):
            return [f"{path}: {len(run)} items, not {len(stored)}"]
        return [p for i, (a, b) in enumerate(zip(stored, run, strict=True)) for p in missing(a, b, f"{path}[{i}]")]
    kinds = [next(t.__name__ for t in (bool, Number, str, list, dict) if isinstance(v, t)) for v in (stored, run)]
    return [] if kinds[0] == kinds[1] else [f"{path}: a {kinds[1]}, not a {kinds[0]}"]


def counts(value):
    """Every whole number of a section's result that counts test or validation errors."""
    if isinstance(value, dict):
        return [c for k, v in value.items() if k not in NOT_COUNTS for c in counts(v)]
    if isinstance(value, list):
        return [c for v in value for c in counts(v)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def records(value):
    """Every test record in a section's result: a model's parameters, accuracy and errors."""
    if isinstance(value, dict):
        own = [value] if {"accuracy", "errors", "errors_on_3"} <= set(value) else []
        return own + [r for v in value.values() for r in records(v)]
    return [r for v in value for r in records(v)] if isinstance(value, list) else []


def test_the_quick_runs_report_has_the_stored_structure_and_plausible_counts(quick_opt_in_run):
    from distiller import stages
    from tests.conftest import OPT_IN

    run = json.loads((quick_opt_in_run / "results.json").read_text())
    stored = json.loads(GOLDEN_JSON.read_text())
    assert set(run) == {s for s in stored if s in stages.DEFAULT or s in OPT_IN}  # its stages' sections
    # Not the config: its fields follow Config's, and the report reads only a few of them.
    without_config = lambda results: {s: {k: v for k, v in results[s].items() if k != "config"} for s in run}
    assert missing(without_config(stored), without_config(run)) == []

    for name, section in run.items():
        found = counts(section["result"])
        assert found and all(0 <= c <= TEST_IMAGES for c in found), (name, found)
        for r in records(section["result"]):
            assert r["accuracy"] == pytest.approx(1 - r["errors"] / TEST_IMAGES, abs=1e-9)
            assert 0 <= r["errors_on_3"] <= min(r["errors"], TEST_THREES)
    students = run["students"]["result"]
    # 2 epochs on 3,000 images: about 1,250 errors on any machine, far from chance (9,000) and from 0.
    for model in ("student", "student_kd"):
        assert all(100 <= r["errors"] <= 2500 for r in students[model]), students
        assert students["statistics"][model]["mean"] == pytest.approx(np.mean([r["errors"] for r in students[model]]))
    assert 100 <= run["teacher"]["result"]["errors"] <= 2500
    same_model = [{k: r[k] for k in ("errors", "errors_on_3")}
                  for r in (run["class3"]["result"]["records"]["student_kd"], students["student_kd"][0])]
    assert same_model[0] == same_model[1]  # class3 reads the students stage's saved Student2.0
    assert run["class3"]["result"]["test_threes"] == TEST_THREES

    assert (quick_opt_in_run / "results.md").read_text() == rendered(run)  # the run's report is its results


def stored_copy(path):
    """A run's results.json as the golden input: its output folder written OUT."""
    text = path.read_text()
    for folder in sorted({str(path.resolve().parent), str(path.parent)} - {"."}, key=len, reverse=True):
        text = text.replace(folder, "OUT")
    return text


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if len(sys.argv) > 1:
        GOLDEN_JSON.write_text(json.dumps(json.loads(stored_copy(Path(sys.argv[1]))), indent=2) + "\n")
    GOLDEN_MD.write_text(rendered(json.loads(GOLDEN_JSON.read_text())))
    print(f"wrote {GOLDEN_MD}; read `git diff {DATA}` before committing it")
