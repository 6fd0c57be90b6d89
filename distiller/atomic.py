"""Files written whole or not at all: a reader (or the next run) sees the old file or the new one.

Each writer fills a temporary file beside the target (same folder, so the rename cannot cross a
file system), flushes it to disk, then renames it over the target. A failure removes the temporary
file and leaves the old target byte for byte; a kill leaves at most a `.tmp-*` file, which the
next run on that folder removes (`remove_leftovers`).
"""

import contextlib
import gc
import json
import os
import re
import secrets
import shutil
from pathlib import Path

from distiller.errors import DistillerError

TEMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path with the same name ending as `path`; renamed over `path` on success.
    The writer may make it a folder (a SavedModel): an old folder at `path` is then renamed aside first
    and removed after, since a rename cannot replace a folder that is not empty.

    Any failure (disk full, permission denied, an exception of the writer, Ctrl-C) removes the
    temporary file; OSErrors become one DistillerError naming the path and the reason.
    """
    path = Path(path)
    temp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(4)}-{path.name}"  # keeps .keras, .weights.h5
    failure = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield temp
        flush_to_disk(temp)
        if temp.is_dir() and path.is_dir():
            old = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(4)}-old-{path.name}"
            os.replace(path, old)
            os.replace(temp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, path)
    except OSError as e:
        failure = DistillerError(f"cannot write {path}: {reason(e)}")
    finally:
        remove(temp)
    if failure is not None:
        # A failed HDF5 write leaves its file open in the frames of the dropped traceback; closed at exit, it
        # crashed the interpreter (seen on a full disk). Close it now.
        gc.collect()
        raise failure


def remove(path):
    with contextlib.suppress(OSError):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def reason(error):
    """An OSError's reason in a few words; h5py puts errno's text inside a long message of its own."""
    found = re.search(r"error message = '([^']+)'", str(error))
    return found.group(1) if found else error.strerror or " ".join(str(error).split())


def ensure_space(path, size):
    """Refuse, as a full disk would, a write of about `size` bytes that cannot fit: HDF5 (the backups'
    format) left in a failed write crashes the interpreter at exit, so it is not asked to try."""
    free = shutil.disk_usage(Path(path).parent).free
    if free < size:
        raise DistillerError(f"cannot write {path}: No space left on device "
                             f"(needs about {size / 2**20:.0f} MB, {free / 2**20:.0f} MB free)")


def flush_to_disk(path):
    """fsync, so that a power cut after the rename cannot leave an empty file under the new name."""
    if path.is_dir():
        for file in (p for p in path.rglob("*") if p.is_file()):
            flush_to_disk(file)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path, data):
    with replacing(path) as temp:
        temp.write_bytes(data)


def write_text(path, text):
    write_bytes(path, text.encode())


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2) + "\n")


def read_json(path, default):
    """A small JSON file of this project's, or `default` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def save_model(model, path, include_optimizer=False):
    """A .keras file, without the optimizer's state unless asked: Adam's two moments per weight tripled
    the Student's file (10 MB against 3.4) and are of no use to a model that is only evaluated or served.
    The .keras format has no include_optimizer switch, so an uncompiled copy is saved (from the config, since
    keras.models.clone_model compiles the copy too)."""
    if not include_optimizer and getattr(model, "optimizer", None) is not None:
        copy = type(model).from_config(model.get_config())
        copy.set_weights(model.get_weights())
        model = copy
    with replacing(path) as temp:
        model.save(temp)


def save_figure(fig, path):
    with replacing(path) as temp:
        fig.savefig(temp, dpi=100, format=Path(path).suffix.lstrip("."))


def remove_leftovers(folder, other_run_marker=None):
    """Delete the temporary files that killed writers left below `folder`; returns how many.

    A subfolder holding `other_run_marker` (another run's lock file, e.g. saved_models/quick/.lock) is
    not entered: what is there may be a write in progress, and that run cleans up after itself."""
    count = 0
    for root, dirs, files in os.walk(folder):
        if other_run_marker:
            dirs[:] = [d for d in dirs if not (Path(root, d) / other_run_marker).exists()]
        for name in [*files, *(d for d in dirs if d.startswith(TEMP_PREFIX))]:  # folders: half-written SavedModels
            if name.startswith(TEMP_PREFIX):
                remove(Path(root, name))
                count += 1
        dirs[:] = [d for d in dirs if not d.startswith(TEMP_PREFIX)]
    return count
