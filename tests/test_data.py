from pathlib import Path

import numpy as np
import pytest

from distiller import data
from distiller.errors import DistillerError


@pytest.fixture
def tiny_mnist(monkeypatch, tmp_path):
    """Four small IDX files standing in for MNIST, with DIGESTS pointed at them."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 20, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    originals = tmp_path / "originals"
    originals.mkdir()
    for name, array in arrays.items():
        data.write_idx(originals / name, array)
    monkeypatch.setattr(data, "DIGESTS", {n: data.sha256(originals / n) for n in arrays})
    return originals, arrays


def copy_source(originals, calls):
    def source(dest):
        calls.append(dest)
        for path in originals.iterdir():
            (Path(dest) / path.name).write_bytes(path.read_bytes())

    return source


def test_idx_round_trip_and_canonical_header(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    data.write_idx(tmp_path / "f", images)
    raw = (tmp_path / "f").read_bytes()
    assert raw[:8] == bytes([0, 0, 8, 3, 0, 0, 0, 2])  # magic for uint8, 3 dims, then 2 images
    np.testing.assert_array_equal(data.read_idx(tmp_path / "f"), images)


def test_fetches_once_then_reads_the_cache(tiny_mnist, tmp_path):
    originals, arrays = tiny_mnist
    calls = []
    sources = {"fake": copy_source(originals, calls)}
    (x, _), (_, yt) = data.load_mnist(tmp_path / "cache", sources, log=lambda *_: None)
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte"])
    data.load_mnist(tmp_path / "cache", sources, log=lambda *_: None)
    assert len(calls) == 1


@pytest.mark.parametrize("damage", ["flip a byte", "truncate"])
def test_corrupt_cache_is_refused_and_fetched_again(tiny_mnist, tmp_path, damage):
    originals, arrays = tiny_mnist
    cache = tmp_path / "cache"
    calls = []
    sources = {"fake": copy_source(originals, calls)}
    data.load_mnist(cache, sources, log=lambda *_: None)
    target = cache / "train-images-idx3-ubyte"
    raw = bytearray(target.read_bytes())
    if damage == "flip a byte":
        raw[100] ^= 0xFF
    else:
        raw = raw[:-10]
    target.write_bytes(bytes(raw))
    messages = []
    (x, _), _ = data.load_mnist(cache, sources, log=messages.append)
    assert len(calls) == 2 and "failed the SHA-256 check" in messages[0]
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte"])


def test_a_source_with_wrong_bytes_is_skipped_and_all_failures_are_named(tiny_mnist, tmp_path):
    originals, _ = tiny_mnist

    def wrong(dest):
        copy_source(originals, [])(dest)
        (Path(dest) / "t10k-labels-idx1-ubyte").write_bytes(b"\0" * 13)

    def offline(dest):
        raise OSError("no network")

    with pytest.raises(DistillerError) as err:
        data.load_mnist(tmp_path / "cache", {"wrong": wrong, "offline": offline}, log=lambda *_: None)
    message = str(err.value)
    assert "wrong: wrong SHA-256 for t10k-labels-idx1-ubyte" in message and "offline: no network" in message
    assert str(tmp_path / "cache") in message
    assert not (tmp_path / "cache" / "train-images-idx3-ubyte").exists()  # nothing unverified is cached


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.default_data_dir() == tmp_path


def test_preprocess_range_and_shape():
    images = np.array([[[0, 255], [128, 51]]], np.uint8)
    x = data.preprocess(images)
    assert x.shape == (1, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], [-1.0, 1.0, 128 / 255 * 2 - 1, 51 / 255 * 2 - 1], atol=1e-6)


def test_validation_split_disjoint_complete_and_stable():
    x = np.arange(100).reshape(100, 1)
    y = np.arange(100)
    (xa, ya), (va, vya) = data.split_validation(x, y, 20, seed=3)
    assert len(va) == 20 and len(xa) == 80
    assert set(ya).isdisjoint(vya) and set(ya) | set(vya) == set(range(100))
    np.testing.assert_array_equal(data.split_validation(x, y, 20, seed=3)[1][1], vya)
    assert not np.array_equal(data.split_validation(x, y, 20, seed=4)[1][1], vya)
    with pytest.raises(DistillerError, match="val_size"):
        data.split_validation(x, y, 100, seed=0)

