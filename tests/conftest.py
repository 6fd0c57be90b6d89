import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
import tensorflow as tf
from filelock import FileLock

# Two logical CPUs, so that a MirroredStrategy test can run without a second device.
# Must happen before TensorFlow initialises its devices, hence here.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def tiny_splits(test_labels=None, sizes=(600, 300, 300)):
    """A learnable toy problem shaped like MNIST: 10 noisy cluster centres in 784 dimensions."""
    import numpy as np

    from distiller.data import Splits

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(10, 784)).astype(np.float32)

    def part(n):
        y = rng.integers(0, 10, n)
        return (centers[y] + rng.normal(size=(n, 784)).astype(np.float32) * 2, y)

    train, val, test = (part(n) for n in sizes)
    if test_labels is not None:
        test = (test[0], test_labels(test[1]))
    return Splits(train, val, test)


def blocks(sizes=(600, 300)):
    """Image-like toy data that survives a 2-pixel shift: class c is an 8 x 8 bright block at a place of its own."""
    import numpy as np

    from distiller.data import Splits

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


ROOT = Path(__file__).resolve().parents[1]


def plant_paper_teacher(config, data, out, units=(16,), seed=0, fit=False):
    """A small stand-in for the paper teacher, saved in `out` under the key a run of `config` on `data` asks for
    (without it a run trains the real one, of config.paper_teacher_epochs). Returns it."""
    import keras

    from distiller import models
    from distiller.artifacts import save
    from distiller.paper_teacher import paper_teacher_key
    from distiller.training import train_on_labels

    keras.utils.set_random_seed(seed)
    teacher = models.mlp(units, "paper_teacher")
    if fit:
        train_on_labels(teacher, data.train, data.val, config, verbose=0)
    save(teacher, Path(out), "paper_teacher", config, {}, paper_teacher_key(config, data))
    return teacher


def train(*args, cwd=ROOT):
    """train.py as a user runs it, in a process of its own."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def train_here(*args):
    """train(*args) in this process: train.py's main as a new process runs it (its argv, no signal received yet,
    nothing training), without a TensorFlow start-up; its signal handlers are undone after. Returns a
    CompletedProcess whose returncode and stderr are what the interpreter makes of main's exit."""
    from distiller import cli, errors

    argv, handlers = sys.argv, (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    sys.argv = [str(ROOT / "train.py"), *args]  # the command results.json records
    errors._received.clear()
    errors.now["training"] = None
    out, err, code = io.StringIO(), io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main(list(args))
    except SystemExit as e:
        code = e.code
    finally:  # and no signal or training left behind for the tests after it
        sys.argv = argv
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
        errors._received.clear()
        errors.now["training"] = None
    if isinstance(code, str):  # sys.exit("error: ..."): printed to stderr, status 1
        err.write(code + "\n")
        code = 1
    return subprocess.CompletedProcess(["train.py", *args], code or 0, out.getvalue(), err.getvalue())


REAL_RESULTS = {"results.json": b'{"teacher": {"result": {"errors": 143}}}\n', "teacher.keras": b"PK a real model",
                "student_kd.keras": b"PK another one", "results.md": b"# Results\n"}


@pytest.fixture(scope="session")
def worker_id(request):
    """pytest-xdist's worker name ("gw0", ...), or "master" without workers, as xdist's own fixture says; also when
    the plugin is off (`pytest -p no:xdist`), where xdist's fixture does not exist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


def built_once(tmp_path_factory, worker_id, name, build):
    """build(folder) -> str, run once per test session even when pytest-xdist's workers share the tests (its
    documented pattern: the first worker builds under a file lock, the others wait and reuse). Returns
    (folder, what build returned)."""
    if worker_id == "master":  # no xdist: an ordinary session fixture
        folder = tmp_path_factory.mktemp(name)
        return folder, build(folder)
    shared = tmp_path_factory.getbasetemp().parent  # the same for every worker of this session
    folder, done = shared / name, shared / f"{name}.out"
    with FileLock(shared / f"{name}.lock"):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a worker failed half-way: start again
            folder.mkdir()
            done.write_text(build(folder))
    return folder, done.read_text()


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory, worker_id):
    """`python train.py --quick`, uninterrupted, where a user already has real results in saved_models/.
    Returns (its output folder, its stdout)."""

    def build(home):
        real = home / "saved_models"
        real.mkdir()
        for name, content in REAL_RESULTS.items():
            (real / name).write_bytes(content)
        done = train("--quick", cwd=home)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    home, stdout = built_once(tmp_path_factory, worker_id, "home", build)
    return home / "saved_models" / "quick", stdout


# The opt-in stages on a --quick scale, added to quick_run's folder.
# The paper stage runs in tests/test_paper.py on small students (here it would add 9 students to every make test).
OPT_IN = ["--fractions", "0.1,1", "--widths", "8", "--temperatures", "2", "-T", "3", "fractions", "widths", "digits78"]


@pytest.fixture(scope="session")
def quick_opt_in_run(quick_run, tmp_path_factory, worker_id):
    """A copy of quick_run's folder after `train.py --quick --out-dir OUT` with every opt-in stage (quick_run's
    own folder keeps only the default stages). No other test may write to it: test_report_unchanged checks
    its report's sections, shapes and bounds against the stored copy in tests/data."""

    def build(home):
        out = home / "saved_models" / "quick"
        shutil.copytree(quick_run[0], out)
        done = train("--quick", "--out-dir", str(out), *OPT_IN, cwd=home)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    home, _ = built_once(tmp_path_factory, worker_id, "opt_in", build)
    return home / "saved_models" / "quick"
