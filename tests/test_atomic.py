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


def refuse(*args):
    raise PermissionError(errno.EACCES, "Permission denied")


def test_permission_denied_is_one_line(tmp_path, monkeypatch):
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


# A child that replaces a folder shaped like a SavedModel, killed (SIGKILL: no `finally` runs) at step `stop` of
# the replace: before writing a file of the new folder, before the exchange or a rename, or half-way through
# removing a folder. "two renames": without the one-step exchange, as on macOS or a file system lacking it.
REPLACER = """
import os, signal, sys
from pathlib import Path
from distiller import atomic
path, stop, mode, files = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
steps = []

def step(name, function):
    def run(*args):
        if len(steps) == stop:
            if name == "remove":
                for file in [p for p in Path(args[0]).rglob("*") if p.is_file()][:1]:
                    file.unlink()
            os.kill(os.getpid(), signal.SIGKILL)
        steps.append(name)
        return function(*args)
    return run

if mode == "two renames":
    atomic.RENAMEAT2 = None
atomic.exchange = step("exchange", atomic.exchange)
atomic.os.replace = step("rename", os.replace)
atomic.remove = step("remove", atomic.remove)
write = step("write", Path.write_text)
with atomic.replacing(path) as temp:
    for name in files:
        (temp / name).parent.mkdir(parents=True, exist_ok=True)
        write(temp / name, "new")
print(" ".join(steps))
"""
SAVED_MODEL = ("saved_model.pb", "variables/variables.data-00000-of-00001", "variables/variables.index")


def write_folder(path, version):
    for name in SAVED_MODEL:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(version)


def version_of(path):
    """"old" or "new" when `path` holds that whole folder, else None."""
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
    versions = {(path / name).read_text() for name in files}
    return versions.pop() if files == sorted(SAVED_MODEL) and len(versions) == 1 else None


@pytest.mark.parametrize("mode, steps, versions", [
    ("exchange", "write write write exchange remove", ["old"] * 4 + ["new"]),
    ("two renames", "write write write exchange rename rename remove remove", ["old"] * 6 + ["new"] * 2)])
def test_a_folder_replace_stopped_at_any_step_leaves_the_whole_old_or_new_folder(tmp_path, mode, steps, versions):
    if mode == "exchange" and atomic.RENAMEAT2 is None:
        pytest.skip("no renameat2 in this C library")
    seen = []
    for stop in range(len(versions) + 1):
        target = tmp_path / str(stop) / "export" / "student"
        write_folder(target, "old")
        done = subprocess.run([sys.executable, "-c", REPLACER, str(target), str(stop), mode, *SAVED_MODEL], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        if stop == len(versions):  # not stopped: the steps of a whole replace
            assert done.returncode == 0 and done.stdout.split() == steps.split(), done.stderr[-3000:]
            assert version_of(target) == "new" and [p.name for p in target.parent.iterdir()] == ["student"]
            break
        assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
        set_aside = [version_of(p) for p in target.parent.glob(".tmp-old-*")]
        if mode == "exchange":
            assert version_of(target) in ("old", "new")  # at every instant
        else:  # between the two renames the path is empty, and the old folder whole beside it
            assert version_of(target) in ("old", "new") or set_aside == ["old"]
        atomic.remove_leftovers(target.parents[1])  # the next run's start
        assert [p.name for p in target.parent.iterdir()] == ["student"]
        seen.append(version_of(target))
    assert seen == versions


def test_an_old_folder_that_cannot_be_put_back_is_kept_for_the_next_run(tmp_path, monkeypatch):
    old = tmp_path / ".tmp-old-0badc0de-student"  # replace_folder stopped between its two renames
    write_folder(old, "old")
    (tmp_path / ".tmp-1234abcd-student").mkdir()  # the new folder, perhaps half-written
    monkeypatch.setattr(atomic.os, "replace", refuse)
    assert atomic.remove_leftovers(tmp_path) == 1
    assert version_of(old) == "old" and not (tmp_path / "student").exists()  # the only whole copy: not deleted
    monkeypatch.undo()
    assert atomic.remove_leftovers(tmp_path) == 0 and version_of(tmp_path / "student") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["student"]
