import keras
import numpy as np

from distiller import cache, keys, models
from distiller.models import logits


def test_logits_cached_once_and_keyed_by_teacher_and_data(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    teacher = models.teacher()
    x = np.random.default_rng(0).normal(size=(50, 784)).astype(np.float32)
    calls = []
    counting = lambda model, data: calls.append(1) or logits(model, data)
    monkeypatch.setattr(cache, "logits", counting)

    first = cache.teacher_logits(teacher, x, tmp_path)
    np.testing.assert_array_equal(first, logits(teacher, x))
    np.testing.assert_array_equal(cache.teacher_logits(teacher, x, tmp_path), first)
    assert len(calls) == 1  # the second call read the file

    cache.teacher_logits(teacher, x[:40], tmp_path)  # other data: a new entry
    bias = teacher.get_layer("logits").bias
    bias.assign(bias.numpy() + 1.0)  # a changed teacher must never reuse stale logits
    changed = cache.teacher_logits(teacher, x, tmp_path)
    assert len(calls) == 3
    np.testing.assert_allclose(changed, first + 1.0, rtol=1e-5, atol=1e-5)


def test_unreadable_entry_is_recomputed(tmp_path):
    keras.utils.set_random_seed(0)
    teacher = models.teacher()
    x = np.ones((4, 784), np.float32)
    path = tmp_path / f"{keys.digest(cache.logits_key(teacher, x))}.npy"
    path.write_bytes(b"garbage")
    np.testing.assert_array_equal(cache.teacher_logits(teacher, x, tmp_path), logits(teacher, x))
