"""The package as a user installs it: a wheel built from the checkout, holding every module, imported from outside
it, running the README's "Using the Distiller on your own models" snippet as written, train.py's command line as
`python -m distiller` and `distiller-train`, and tune.py's as `python -m distiller tune` and `distiller-tune`."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from tests.conftest import ROOT

# What the README's snippet leaves to the reader: two small models and data shaped like theirs.
SETUP = """
import numpy as np
import keras
keras.utils.set_random_seed(0)
def mlp(units):
    return keras.Sequential([keras.Input((20,), name="pixels"), keras.layers.Dense(units, "relu"), keras.layers.Dense(3)])
teacher, student = mlp(32), mlp(8)
rng = np.random.default_rng(0)
x, y = rng.normal(size=(256, 20)).astype("float32"), rng.integers(0, 3, 256)
x_val, y_val = x[:64], y[:64]
"""
CHECK = """
import distiller, os
assert os.path.abspath(distiller.__file__).startswith(os.path.abspath(os.environ["SITE"])), distiller.__file__
from distiller import Distiller, distillation_loss
print("loss", float(distillation_loss(np.array([0]), np.zeros((1, 3)), np.zeros((1, 3)), 2.0, 1.0)))
print("student", keras.models.load_model("student.keras").count_params())
"""


def readme_snippet():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using the Distiller on your own models", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the wheel, the folder it is installed in): built offline from a copy of the checkout, so that the build
    leaves nothing in it; installed with --target, its console scripts in bin/."""
    tmp_path = tmp_path_factory.mktemp("package")
    source = tmp_path / "source"
    shutil.copytree(ROOT / "distiller", source / "distiller", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "wheel", source], check=True)
    wheel = next((tmp_path / "wheel").glob("distiller-*.whl"))
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    return wheel, site


def installed_env(site):
    """The environment of `python -S` on the installed copy alone: -S leaves out this checkout's editable install
    (whose finder would supply any module missing from the wheel); this venv's packages (TensorFlow...) are added
    by path."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], "TF_CPP_MIN_LOG_LEVEL": "2", "COLUMNS": "80",
           "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]])}
    if "DISTILLER_DATA_DIR" in os.environ:
        env["DISTILLER_DATA_DIR"] = os.environ["DISTILLER_DATA_DIR"]
    return env


def run_installed(site, *command, cwd):
    return subprocess.run([sys.executable, "-S", *command], cwd=cwd, env=installed_env(site), capture_output=True,
                          text=True, check=False)


def lines_until(site, *command, cwd, wanted):
    """The lines the installed command prints up to the first that starts with `wanted`; then it is stopped (as a
    Ctrl-C would), before it trains anything: a line about training, or the end of its output, ends it too."""
    process = subprocess.Popen([sys.executable, "-S", *command], cwd=cwd, env={**installed_env(site),
                               "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = []
    for line in process.stdout:
        seen.append(line.rstrip("\n"))
        if line.startswith((wanted, "Epoch")) or "training" in line:
            break
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    return seen


def test_the_wheel_holds_every_module_of_the_package(installed):
    wheel, _ = installed
    in_checkout = {str(p.relative_to(ROOT)) for p in (ROOT / "distiller").rglob("*.py") if "__pycache__" not in p.parts}
    in_wheel = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".py")}
    assert "distiller/stages/export.py" in in_checkout and in_wheel == in_checkout
    entry_points = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "distiller-train = distiller.cli:main" in scripts and "distiller-tune = distiller.tune_cli:main" in scripts


def test_the_installed_command_line_is_train_pys(installed, tmp_path):
    """`python -m distiller --help` and `distiller-train --help` from another folder: train.py's flags and stages,
    under the name the user typed."""
    _, site = installed
    train_help = subprocess.run([sys.executable, ROOT / "train.py", "--help"], capture_output=True, text=True,
                                env={**os.environ, "COLUMNS": "80"}, check=True).stdout  # argparse wraps to COLUMNS
    for command, name in ((["-m", "distiller"], "python -m distiller"), ([site / "bin" / "distiller-train"],
                                                                         "distiller-train")):
        done = run_installed(site, *command, "--help", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.startswith(f"usage: {name} [-h] [--epochs EPOCHS]")
        assert f"    {name} --quick" in done.stdout and "python train.py" not in done.stdout
        # the same text once the program's name is put back: every flag, stage and default
        assert flags_and_stages(done.stdout) == flags_and_stages(train_help)


def flags_and_stages(help_text):
    return help_text.split("positional arguments:", 1)[1]


def test_the_installed_search_is_tune_pys(installed, tmp_path):
    """`python -m distiller tune --help` and `distiller-tune --help` from another folder: tune.py's flags, its
    examples under the names the user typed (and train.py's beside them)."""
    _, site = installed
    tune_help = subprocess.run([sys.executable, ROOT / "tune.py", "--help"], capture_output=True, text=True,
                               env={**os.environ, "COLUMNS": "80"}, check=True).stdout
    for command, name, train in ((["-m", "distiller", "tune"], "python -m distiller tune", "python -m distiller"),
                                 ([site / "bin" / "distiller-tune"], "distiller-tune", "distiller-train")):
        done = run_installed(site, *command, "--help", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.startswith(f"usage: {name} [-h]") and "[--tuner {random,bayesian,hyperband,grid}]" in done.stdout
        assert f"    {name} --workers 2" in done.stdout and f"    {train} --hparams tuning/search/best.json" in done.stdout
        assert "tune.py" not in done.stdout and "train.py" not in done.stdout
        assert done.stdout.split("options:", 1)[1] == tune_help.split("options:", 1)[1]


@pytest.mark.slow
def test_python_m_distiller_runs_the_default_stages_from_an_installed_wheel(installed, tmp_path):
    """`python -m distiller --quick --out-dir OUT` from another folder (about a minute on 2 cores)."""
    _, site = installed
    done = run_installed(site, "-m", "distiller", "--quick", "--out-dir", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {"teacher", "students", "class3"} <= set(results)
    assert results["teacher"]["result"]["errors"] < 3000  # 2 epochs on 3,000 images: far better than chance (9,000)


def test_the_installed_package_finds_the_committed_paper_teacher_or_says_where_it_is_before_any_training(
        installed, tmp_path):
    """An installed package holds no paper teacher: a run says so first, with where to get it and what training one
    costs; given it (--paper-teacher), it reuses it. Each run is stopped at that line, before any training."""
    _, site = installed
    committed = ROOT / "saved_models" / "paper_teacher.keras"
    if not committed.is_file():
        pytest.skip("no paper teacher committed")
    seen = lines_until(site, "-m", "distiller", "--out-dir", "out", cwd=tmp_path, wanted="Paper teacher:")
    assert seen[-1].startswith("Paper teacher: none in out/"), seen
    assert "this run will train one: 600 epochs, about 1 h 30 min on 2 cores" in seen[-1]
    assert "saved_models/paper_teacher.keras of the distiller repository" in seen[-1]
    assert "--paper-teacher FILE" in seen[-1]

    seen = lines_until(site, "-m", "distiller", "--out-dir", "out", "--paper-teacher", str(committed), "paper",
                       cwd=tmp_path, wanted="Paper teacher:")
    assert seen[-1] == f"Paper teacher: reusing {committed}, made with this run's settings, split, data and code", seen


def test_readme_snippet_runs_from_an_installed_wheel(installed, tmp_path):
    _, site = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    script = SETUP + readme_snippet() + CHECK
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "SITE": str(site), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loss 5.493" in done.stdout  # equal logits: ln 3 + T^2 * ln 3 at T = 2
    assert "student 195" in done.stdout  # 20*8 + 8 + 8*3 + 3 parameters: the student alone was saved
