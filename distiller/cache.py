"""Teacher logits, computed once per (teacher weights, data) and kept on disk.

Exact here: the transfer set has no augmentation, so the teacher sees the same x every epoch,
every seed and every tuner trial; with the paper's jitter there are only 25 views of each image, and
view_logits keeps the teacher's logits for all of them. A cache file is named by its key (keys.key: the teacher's
weights, the data, the views and the cache's code), which is written beside it: a retrained teacher, other data
or changed code never reuses stale logits.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from distiller import atomic, augment, keys
from distiller.models import logits


def logits_key(model, x, views=1):
    """The key of `model`'s logits for x: on the images themselves (views 1) or on their 25 shifted views."""
    return keys.key("logits", {"views": views}, data=[x], made_from=[keys.weights_digest(model)])


class TeacherLogits(tuple):
    """(a teacher's logits for the training images, for the validation images), and `id`: what a student distilled
    from them names them by in its key. The digest of their key (the teacher's weights, the images, the views), not
    of their values: float rounding differs between processors, so logits computed anew on another machine differ in
    their last bits, and hours of units distilled from them must still be found."""

    def __new__(cls, train, val, id):
        logits = super().__new__(cls, (train, val))
        logits.id = id
        return logits


def teacher_logits(teacher, x, cache_dir):
    """`teacher`'s logits for x from `cache_dir`, computing and storing them on a miss."""
    return cached(cache_dir, logits_key(teacher, x), (len(x), teacher.output_shape[-1]), lambda: logits(teacher, x))


def view_logits(teacher, x, cache_dir):
    """(N, 25, classes): `teacher`'s logits for each of the 25 shifted views of each image of x (augment.VIEWS),
    computed once per (teacher, x): consistent teaching at the cost of a lookup."""
    shape = (len(x), len(augment.VIEWS), teacher.output_shape[-1])
    return cached(cache_dir, logits_key(teacher, x, len(augment.VIEWS)), shape, lambda: every_view_logits(teacher, x))


def every_view_logits(model, x):
    """(N, 25, classes): the model's logits for each view of each image of x, in the order of augment.VIEWS."""
    forward = tf.function(model)  # traced once for all 25 views: a fifth faster here than eager calls
    return np.stack([logits(forward, view) for view in augment.every_view(x)], axis=1)


def cached(cache_dir, artifact_key, shape, compute):
    """The array cached under `artifact_key` if it is whole and of `shape`; else compute() stored there (atomically,
    with its key beside it) and returned."""
    path = Path(cache_dir) / f"{keys.digest(artifact_key)}.npy"
    if path.exists():
        try:
            values = np.load(path)
            if values.shape == shape:
                return values
        except (OSError, ValueError):
            pass  # unreadable: recompute and overwrite below
    values = compute()
    with atomic.replacing(path) as temp:  # a reader never sees half a file
        np.save(temp, values)
    atomic.write_json(path.with_suffix(".json"), artifact_key)
    return values


def teacher_logits_for(teacher, data, cache_dir):
    """TeacherLogits: (logits on the training split, logits on the validation split), through the cache."""
    return TeacherLogits(*(teacher_logits(teacher, x, cache_dir) for x in (data.train[0], data.val[0])),
                         id=keys.digest(logits_key(teacher, data.train[0])))


def teacher_view_logits_for(teacher, data, cache_dir):
    """TeacherLogits: (logits for the 25 shifted views of each training image, logits on the validation images):
    what a student taught on consistent views distils from (it is validated on the images themselves)."""
    views = view_logits(teacher, data.train[0], cache_dir)
    return TeacherLogits(views, teacher_logits(teacher, data.val[0], cache_dir),
                         id=keys.digest(logits_key(teacher, data.train[0], len(augment.VIEWS))))
