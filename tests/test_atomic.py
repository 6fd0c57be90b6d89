"""Files are written whole or not at all: after a kill or a full disk the old file is there, byte for byte."""

import errno
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from distiller import atomic, models
from distiller.errors import DistillerError

ROOT = Path(__file__).resolve().parents[1]

# A child that rewrites one JSON file again and again, slowly, piece by piece, as a large save does.
WRITER = """
import json, sys, time
from distiller import atomic
path, i = sys.argv[1], 0
print("writing", flush=True)
while True:
    with atomic.replacing(path) as temp, open(temp, "w") as f:
        f.write('{"version": %d, "payload": [' % (i % 2))
        for piece in range(100):
            f.write("0, " * 99 + "0" + (", " if piece < 99 else "]}"))
            f.flush()
            time.sleep(0.001)
    i += 1
"""


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8])
def test_a_kill_during_writes_leaves_a_whole_file(tmp_path, delay):
    target = tmp_path / "results.json"
    atomic.write_json(target, {"version": "old", "payload": []})
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "writing\n"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    value = json.loads(target.read_text())  # never half a file
    assert value["version"] in ("old", 0, 1) and len(value["payload"]) in (0, 10_000)
    leftovers = list(tmp_path.glob(".tmp-*"))
    assert atomic.remove_leftovers(tmp_path) == len(leftovers) and not list(tmp_path.glob(".tmp-*"))


class FullDisk:
    """A model whose save writes part of the file, then fails as a full disk does."""

    def save(self, path):
        Path(path).write_bytes(b"PK\x03\x04 half a model")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_during_a_save_is_one_line_and_keeps_the_old_file(tmp_path):
    keras.utils.set_random_seed(0)
    path = tmp_path / "student.keras"
    atomic.save_model(models.mlp((4,), "s"), path)
    before = path.read_bytes()
    with pytest.raises(DistillerError) as error:
        atomic.save_model(FullDisk(), path)
    assert str(error.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == before and not list(tmp_path.glob(".tmp-*"))
    models.load(path)  # still the old, whole model


def test_permission_denied_is_one_line(tmp_path, monkeypatch):
    def refuse(*args):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(DistillerError, match=r"cannot write .*best\.json: Permission denied"):
        atomic.write_json(tmp_path / "best.json", {"temperature": 2})
    assert not list(tmp_path.iterdir())


def test_an_interrupt_inside_a_write_removes_the_temporary_file(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic.replacing(tmp_path / "report.md") as temp:
        temp.write_text("half")
        raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())


def test_a_written_model_keeps_its_name_ending(tmp_path):
    seen = []

    class Spy:
        def save(self, path):
            seen.append(Path(path).name)
            Path(path).write_bytes(b"model")

    atomic.save_model(Spy(), tmp_path / "teacher.keras")
    assert seen[0].startswith(".tmp-") and seen[0].endswith("-teacher.keras")  # Keras insists on .keras
    assert (tmp_path / "teacher.keras").read_bytes() == b"model"


def test_leftovers_of_another_run_folder_are_left_to_it(tmp_path):
    for name in (".tmp-1-results.json", "backups/teacher/.tmp-2-state.json", "quick/.tmp-3-teacher.keras"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("half")
    (tmp_path / "quick" / ".lock").write_text("4242\n")  # saved_models/quick: a --quick run's own folder
    assert atomic.remove_leftovers(tmp_path, other_run_marker=".lock") == 2
    assert [p.name for p in tmp_path.rglob(".tmp-*")] == [".tmp-3-teacher.keras"]


def test_a_write_that_cannot_fit_is_refused_before_it_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 7 * 2**20})())
    with pytest.raises(DistillerError) as error:
        atomic.ensure_space(tmp_path / "epoch-2.weights.h5", 28 * 2**20)
    assert str(error.value) == (f"cannot write {tmp_path / 'epoch-2.weights.h5'}: No space left on device "
                                "(needs about 28 MB, 7 MB free)")
    atomic.ensure_space(tmp_path / "epoch-2.weights.h5", 6 * 2**20)  # fits: no error


def test_h5py_reasons_are_cut_to_errnos_text():
    long = OSError("Can't synchronously write data (file write failed: time = Sat Nov 28 08:08:56 2026\n, "
                   "errno = 28, error message = 'No space left on device', buf = 0x5589bc87eda0)")
    assert atomic.reason(long) == "No space left on device"
    assert atomic.reason(OSError(errno.EACCES, "Permission denied")) == "Permission denied"


def test_a_folder_is_replaced_whole_and_a_failed_one_leaves_the_old(tmp_path):
    target = tmp_path / "export" / "student"  # a SavedModel is a folder
    for version in ("old", "new"):
        with atomic.replacing(target) as temp:
            (temp / "variables").mkdir(parents=True)
            (temp / "variables" / "data").write_text(version)
    assert (target / "variables" / "data").read_text() == "new"
    with pytest.raises(RuntimeError), atomic.replacing(target) as temp:
        temp.mkdir()
        (temp / "half").write_text("half")
        raise RuntimeError("the export failed")
    assert [p.name for p in target.parent.iterdir()] == ["student"]
    assert (target / "variables" / "data").read_text() == "new"
    (target.parent / ".tmp-1-student").mkdir()  # what a kill during an export leaves
    assert atomic.remove_leftovers(tmp_path) == 1 and [p.name for p in target.parent.iterdir()] == ["student"]


def test_a_saved_model_carries_no_optimizer_unless_asked(tmp_path):
    import numpy as np

    keras.utils.set_random_seed(0)
    model = models.mlp((64,), "s")
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(32, 784)).astype("float32")
    model.fit(x, np.zeros(32, int), epochs=1, verbose=0)
    atomic.save_model(model, tmp_path / "served.keras")
    atomic.save_model(model, tmp_path / "resumable.keras", include_optimizer=True)
    served = models.load(tmp_path / "served.keras")
    np.testing.assert_array_equal(served(x).numpy(), model(x).numpy())
    assert getattr(served, "optimizer", None) is None
    assert keras.models.load_model(tmp_path / "resumable.keras").optimizer.iterations.numpy() == 1
    # Adam keeps two moments per weight: without them the file is about a third as large.
    assert (tmp_path / "served.keras").stat().st_size < 0.4 * (tmp_path / "resumable.keras").stat().st_size
