"""train.py as a user runs it: a --quick end-to-end run on real MNIST, and bad input (train.py's main in this
process: conftest's train_here)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REAL_RESULTS, train, train_here


def test_quick_run_leaves_the_real_results_untouched(quick_run):
    out, stdout = quick_run
    for name, content in REAL_RESULTS.items():
        assert (out.parent / name).read_bytes() == content
    assert "saved_models/quick/" in stdout and (out / "results.json").is_file()


def test_quick_run_writes_models_results_and_report(quick_run):
    out, stdout = quick_run
    for name in ("teacher", "paper_teacher", "student", "student_kd_teacher", "student_jitter", "student_kd",
                 "student_kd_minus3", "student_kd_minus3_shifted"):
        assert (out / f"{name}.keras").is_file() and (out / f"{name}.json").is_file()
    assert (out / "results.md").read_text() in stdout
    assert (out / "class3_bias.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"teacher", "students", "class3"}
    students = results["students"]["result"]
    assert [students[name][0]["teacher"] for name in ("student", "student_kd_teacher", "student_jitter",
                                                      "student_kd")] == [None, "the Teacher", None, "the paper teacher"]
    config = results["students"]["config"]
    assert (config["epochs"], config["kd_epochs"], config["train_size"]) == (2, 2, 3000)
    # The paper teacher of --quick is trained on the quick split (2 epochs), not taken from the committed one.
    assert "Paper teacher: 1200-1200 with jitter, dropout and max-norm, 2 epochs" in stdout
    assert "Student2.0 is taught by the paper teacher" in stdout


def test_quick_run_numbers_match_the_saved_models(quick_run):
    from distiller import models
    from distiller.config import Config, quick
    from distiller.data import prepare_data
    from distiller.evaluate import summary
    from distiller.models import logits

    out, _ = quick_run
    results = json.loads((out / "results.json").read_text())
    test = prepare_data(quick(Config()), log=lambda *_: None).test
    student_kd = summary(logits(models.load(out / "student_kd.keras"), test[0]), test[1])
    recorded = results["students"]["result"]["student_kd"][0]
    assert (student_kd["errors"], student_kd["errors_on_3"]) == (recorded["errors"], recorded["errors_on_3"])
    assert results["class3"]["result"]["records"]["student_kd"]["errors"] == recorded["errors"]
    assert 0.5 < student_kd["accuracy"] < 1.0 and np.isfinite(student_kd["accuracy"])


def test_second_run_reuses_the_saved_teacher(quick_run, tmp_path):
    out = copy_of(quick_run[0], tmp_path, ["teacher.keras", "teacher.json", "results.json"])  # quick_run's stays
    before = (out / "teacher.keras").read_bytes()
    done = train_here("--quick", "--out-dir", str(out), "teacher")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reusing" in done.stdout and (out / "teacher.keras").read_bytes() == before
    # The same numbers: the section still names the command that produced them, not this one.
    sections = [json.loads((folder / "results.json").read_text())["teacher"] for folder in (quick_run[0], out)]
    assert sections[1] == sections[0] and sections[1]["command"] == "python train.py --quick"


def error_line(done):
    """The project's one-line error: the last line of stderr, under whatever TensorFlow logged before it (with
    oneDNN on, two lines at import). No Traceback anywhere."""
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), done.stderr[-3000:]
    return line


def test_class3_without_a_saved_student_is_one_clear_error(quick_run, tmp_path):
    copy_of(quick_run[0], tmp_path, ["teacher.keras", "teacher.json"])
    done = train_here("--quick", "--out-dir", str(tmp_path), "class3")
    assert done.returncode == 1
    assert error_line(done).startswith("error: no saved Student2.0")


def test_wrong_shaped_teacher_is_one_clear_error(quick_run, tmp_path):
    import keras

    copy_of(quick_run[0], tmp_path, ["teacher.json"])  # its key says: made with this run's settings, so load it
    without_digest(tmp_path / "teacher.json")  # as older code wrote it (with its digest, it is trained anew)
    keras.Sequential([keras.Input((10,)), keras.layers.Dense(10)]).save(tmp_path / "teacher.keras")
    done = train_here("--quick", "--out-dir", str(tmp_path), "teacher")
    assert done.returncode == 1 and "expected (None, 784) -> (None, 10)" in error_line(done)


def test_unwritable_output_directory_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    done = train_here("--quick", "--out-dir", str(tmp_path / "file" / "sub"))
    assert done.returncode == 1 and error_line(done).startswith("error: cannot write to the output directory")


@pytest.mark.parametrize("flag", [["--epochs", "0"], ["--temperature", "-1"], ["--lambda", "-0.5"], ["nonsense"],
                                  ["--lambda", "nan"], ["-T", "inf"], ["--learning-rate", "nan"],
                                  ["--temperatures", "2,nan"], ["--fractions", "inf"]])
def test_bad_flag_values_are_refused(flag):
    done = train_here(*flag)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error:" in done.stderr.strip().splitlines()[-1]  # argparse's: "train.py: error: ..."


def test_help_explains():
    done = train_here("--help")
    assert done.returncode == 0 and "--seeds" in done.stdout and "class3" in done.stdout


def test_quick_run_of_the_opt_in_experiments(quick_opt_in_run):
    out = quick_opt_in_run
    results = json.loads((out / "results.json").read_text())
    assert {"fractions", "widths", "digits78"} <= set(results)
    assert "--widths 8" in results["widths"]["command"] and results["widths"]["config"]["temperature"] == 3.0
    assert (out / "paper_teacher.keras").is_file() and (out / "fractions.png").is_file()
    saved = json.loads((out / "paper_teacher.json").read_text())
    assert saved["config"]["epochs"] == 2 and 0 <= saved["record"]["val_errors"] <= 1000  # quick: 2 epochs, 1000 held out
    assert "## A transfer set of 7s and 8s only" in (out / "results.md").read_text()


@pytest.mark.slow
def test_full_run_meets_the_pipeline_targets(tmp_path):
    """`make test-slow`: the default run on full MNIST (about 10 minutes on 2 cores), from the committed paper
    teacher."""
    done = train("--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["teacher"]["result"]["errors"] <= 150
    students = results["students"]["result"]
    assert students["student"][0]["errors"] <= 165 and students["student_kd"][0]["errors"] <= 110
    assert students["student_kd"][0]["errors"] <= students["student_jitter"][0]["errors"]
    class3 = results["class3"]["result"]["records"]
    assert class3["shifted"]["errors_on_3"] <= 2 * class3["student_kd"]["errors_on_3"]
    assert class3["shifted"]["errors"] <= 1.25 * class3["student_kd"]["errors"]


def test_quick_honours_the_flags_the_user_gives():
    from train import parse_args

    config, _ = parse_args(["--quick", "--epochs", "1", "--val-size", "500"])
    assert (config.epochs, config.val_size, config.train_size) == (1, 500, 3000)
    assert config.out_dir == str(Path("saved_models") / "quick")
    config, _ = parse_args(["--quick", "--out-dir", "elsewhere", "--paper-teacher-epochs", "3"])
    assert (config.epochs, config.paper_teacher_epochs, config.out_dir) == (2, 3, "elsewhere")
    config, _ = parse_args(["--epochs", "5"])
    assert (config.epochs, config.train_size, config.out_dir, config.jit_compile) == (5, None, "saved_models", True)
    assert not parse_args(["--quick"])[0].jit_compile and parse_args(["--quick", "--jit-compile"])[0].jit_compile
    assert not parse_args(["--no-jit-compile"])[0].jit_compile


def test_the_paper_stage_needs_no_flag_and_its_choices_can_be_set():
    from distiller.config import Config
    from train import parse_args

    config, stages = parse_args(["paper"])
    assert stages == ["paper"] and config == Config()  # the chosen recipe is the default: 3 seeds, config's candidates
    assert config.paper_seeds == 3 and 1 <= len(config.paper_fixed) <= 6 and config.paper_epochs
    config, _ = parse_args(["paper", "--paper-seeds", "2", "--paper-epochs", "5,10"])
    assert (config.paper_seeds, config.paper_epochs) == (2, (5, 10))
    config, _ = parse_args(["--quick", "paper"])
    assert (config.paper_seeds, config.paper_epochs) == (1, (1, 2)) and all(e <= 2 for *_, e in config.paper_fixed)


def without_digest(path):
    saved = json.loads(path.read_text())
    del saved["sha256"]
    path.write_text(json.dumps(saved))


def copy_of(out, tmp_path, names):
    for name in names:
        (tmp_path / name).write_bytes((out / name).read_bytes())
    return tmp_path


def test_an_unreadable_results_json_is_moved_aside_and_the_run_goes_on(quick_run, tmp_path):
    out, _ = quick_run
    folder = copy_of(out, tmp_path, ["teacher.keras", "teacher.json"])
    (folder / "results.json").write_text('{"teacher": {"date": "2026-1')  # what a kill mid-write once left
    done = train_here("--quick", "--out-dir", str(folder), "teacher")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    aside = list(folder.glob("results.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == '{"teacher": {"date": "2026-1'
    assert "is unreadable" in done.stdout and "teacher" in json.loads((folder / "results.json").read_text())


def test_a_truncated_model_is_trained_anew_or_called_corrupt(quick_run, tmp_path):
    out = copy_of(quick_run[0], tmp_path, ["teacher.json"])  # its key says: made with this run's settings
    (out / "teacher.keras").write_bytes((quick_run[0] / "teacher.keras").read_bytes()[:100_000])
    done = train_here("--quick", "--out-dir", str(tmp_path), "teacher")
    assert done.returncode == 0, done.stderr[-3000:]  # the file is not the one its .json names: trained anew
    assert "is not the file its key was written for (its SHA-256 differs: changed or damaged); training a new one" \
        in done.stdout

    # A .json of older code has no digest: the key says load it, and the damage is found when loading.
    without_digest(copy_of(quick_run[0], tmp_path, ["teacher.json"]) / "teacher.json")
    (out / "teacher.keras").write_bytes((quick_run[0] / "teacher.keras").read_bytes()[:100_000])
    done = train_here("--quick", "--out-dir", str(tmp_path), "teacher")
    line = error_line(done)
    assert done.returncode == 1 and "--retrain" in line
    assert re.match(f"error: the saved [Tt]eacher at {re.escape(str(tmp_path / 'teacher.keras'))} is corrupt", line)
