"""Files written whole or not at all: a reader (or the next run) sees the old file or the new one.

A writer fills a temporary file beside the target (same file system), fsyncs it and renames it over the target. A
failure removes the temporary and leaves the old target byte for byte; a kill leaves at most a `.tmp-*` file, which
the next run on that folder removes (`remove_leftovers`).

A folder (a SavedModel) cannot be renamed over a folder that is not empty. On Linux the two are exchanged in one step
(renameat2 RENAME_EXCHANGE). Elsewhere the old folder is first renamed aside to `.tmp-old-*`; a kill before the new one
is in leaves no folder at the path, and the next run's `remove_leftovers` renames the old copy back: it never deletes
the only copy.
"""

import contextlib
import ctypes
import errno
import gc
import json
import os
import re
import secrets
import shutil
from pathlib import Path

from distiller.errors import DistillerError

TEMP_PREFIX = ".tmp-"
OLD_PREFIX = f"{TEMP_PREFIX}old-"  # a whole old folder set aside; never a temporary's name (.tmp- then 8 hex digits)
OLD_NAME = re.compile(rf"{re.escape(OLD_PREFIX)}[0-9a-f]{{8}}-(.+)")
try:  # the C library's renameat2 (glibc 2.28 and later); None on macOS and other C libraries
    RENAMEAT2 = ctypes.CDLL(None, use_errno=True).renameat2
except (AttributeError, OSError, TypeError):
    RENAMEAT2 = None
RENAME_EXCHANGE = 2  # from <linux/fs.h>
AT_FDCWD = -100  # relative paths are taken from the current folder, as os.replace takes them


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path (with `path`'s name ending: .keras, .weights.h5), renamed over `path` on success; the
    writer may make it a folder. Any failure removes it; an OSError becomes one DistillerError naming path and reason.
    """
    path = Path(path)
    temp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(4)}-{path.name}"
    failure = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield temp
        flush_to_disk(temp)
        if temp.is_dir() and path.is_dir():
            replace_folder(temp, path)
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


def replace_folder(temp, path):
    """Put the folder `temp` at `path`, where a folder is: exchanged in one step where the system can (the old
    one is then at `temp`, which `replacing` removes), else by two renames that remove_leftovers can undo."""
    try:
        return exchange(temp, path)
    except OSError:
        pass  # not Linux, or a file system without the exchange: a real error recurs in os.replace below
    old = path.parent / f"{OLD_PREFIX}{secrets.token_hex(4)}-{path.name}"
    os.replace(path, old)
    os.replace(temp, path)  # a kill before this line leaves no folder at `path`, and the whole old one at `old`
    remove(old)


def exchange(a, b):
    """Swap the entries at paths `a` and `b` in one step: nobody ever sees either path missing."""
    if RENAMEAT2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if RENAMEAT2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


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
    """fsync every file, so that a power cut after the rename cannot leave an empty file under the new name."""
    for file in [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]:
        fd = os.open(file, os.O_RDONLY)
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


def remove_leftovers(folder, other_run_marker=None):
    """Delete the temporary files that killed writers left below `folder`; returns how many. A whole old folder
    that a kill left set aside (`.tmp-old-*`, see replace_folder) is renamed back instead where its path is empty.

    A subfolder holding `other_run_marker` (another run's lock file, e.g. saved_models/quick/.lock) is
    not entered: what is there may be a write in progress, and that run cleans up after itself."""
    count = 0
    for root, dirs, files in os.walk(folder):
        if other_run_marker:
            dirs[:] = [d for d in dirs if not (Path(root, d) / other_run_marker).exists()]
        leftovers = [Path(root, name) for name in [*files, *dirs] if name.startswith(TEMP_PREFIX)]
        dirs[:] = [d for d in dirs if not d.startswith(TEMP_PREFIX)]  # folders: half-written SavedModels
        for leftover in leftovers:
            if not put_back(leftover):
                remove(leftover)
                count += 1
    return count


def put_back(leftover):
    """True when `leftover` is an old folder that replace_folder set aside and the kill left as the only whole copy
    (its path is empty; the new folder beside it may be whole too, but nothing says so): it is renamed back, or if
    that fails, left for the next run."""
    found = OLD_NAME.fullmatch(leftover.name)
    if not found or (path := leftover.parent / found.group(1)).exists() or path.is_symlink():
        return False
    with contextlib.suppress(OSError):
        os.replace(leftover, path)
    return True
