"""The package as a user installs it: a wheel built from the checkout, imported from outside it, running
the README's "Using the Distiller on your own models" snippet as written."""

import re
import shutil
import subprocess
import sys

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


def test_readme_snippet_runs_from_an_installed_wheel(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT / "distiller", source / "distiller", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "wheel", source], check=True)
    wheel = next((tmp_path / "wheel").glob("distiller-*.whl"))
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    script = SETUP + readme_snippet() + CHECK
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "SITE": str(site), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loss 5.493" in done.stdout  # equal logits: ln 3 + T^2 * ln 3 at T = 2
    assert "student 195" in done.stdout  # 20*8 + 8 + 8*3 + 3 parameters: the student alone was saved
