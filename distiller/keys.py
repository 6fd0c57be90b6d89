"""What an artifact is: one key for every saved model, logit cache, finished unit and backup.

A key names everything that decides the artifact: its kind and the version of the code that makes it
(RECIPES), its settings, the split (seed, validation size), a digest of its data, and the keys (or the
digests) of what it was made from (a student: its teacher's logits; a cache: its model's weights). It is
stored beside the artifact, and an artifact is reused only when its stored key equals the key asked for
(`difference` says in words what differs). An artifact without a key is never reused.

Why a recipe version and not a digest of the code in the key: a refactor of training.py must not throw away
an hour-long teacher. tests/test_keys.py fails when the code of a recipe changes while its recorded digest does
not, so whoever changes it decides: the same numbers (record the new digest), or other numbers (bump the version
too, so that every artifact of that recipe is made anew).
"""

import ast
import dataclasses
import hashlib
import importlib.util
import json

import numpy as np


@dataclasses.dataclass(frozen=True)
class Recipe:
    version: int  # bump when the numbers this code makes change: every artifact of an older version is made anew
    modules: tuple  # the code that makes the artifact
    digest: str  # code_digest(modules) when `version` was last decided (tests/test_keys.py checks it)


RECIPES = {
    # A net trained on labels: the Teacher, the Student, the paper teacher.
    "labels": Recipe(1, ("distiller.batches", "distiller.training", "distiller.models", "distiller.augment",
                         "distiller.dropout", "distiller.optimizers"), "734e85cdf69881f3"),
    # A student distilled from a teacher's logits.
    "distilled": Recipe(1, ("distiller.batches", "distiller.training", "distiller.models", "distiller.distiller",
                            "distiller.losses", "distiller.augment", "distiller.optimizers"), "b7bf261e3181eb9d"),
    # Student2.0(-3) with the bias of output 3 raised (class 3).
    "bias_shift": Recipe(1, ("distiller.bias_shift",), "66c2c65998d26fbb"),
    # A teacher's logits, on the images or on their 25 shifted views.
    "logits": Recipe(1, ("distiller.cache", "distiller.augment"), "c742230b5b896be7"),
}


def key(kind, settings, split=None, data=(), made_from=()):
    """The key of an artifact of `kind`: `settings` (a JSON-able dict), `split` (the config whose seed and
    val_size made the split, or None), `data` (the arrays it was made from, digested) and `made_from` (keys or
    digests of the artifacts it was made from)."""
    return {
        "kind": kind,
        "recipe": RECIPES[kind].version,
        "settings": json.loads(json.dumps(settings, sort_keys=True)),
        "split": None if split is None else {"seed": split.seed, "val_size": split.val_size,
                                             "train_size": split.train_size},
        "data": array_digest(*data) if data else None,
        "made_from": [digest(m) if isinstance(m, dict) else m for m in made_from],
    }


def digest(artifact_key):
    """16 hex digits naming a key: the name of a cache file, a finished unit, a backup's owner."""
    return hashlib.sha256(json.dumps(artifact_key, sort_keys=True).encode()).hexdigest()[:16]


def array_digest(*arrays, rows=101):
    """A digest of arrays: their shapes, dtypes and every `rows`-th row (a sample tells data sets apart at a
    hundredth of the cost: the full training split is 172 MB) plus the whole of any 1-D array (labels)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        sample = a if a.ndim == 1 else a[::rows]
        h.update(f"{a.shape}{a.dtype}".encode() + np.ascontiguousarray(sample).tobytes())
    return h.hexdigest()[:16]


def weights_digest(model):
    """A model's identity as its weights: what a logit cache was made from."""
    return array_digest(*model.get_weights(), rows=1)


def difference(stored, wanted):
    """None when `stored` (a key read back, or None) is `wanted`; else what differs, in words
    ("was made on seed 0's split, this run uses seed 1's")."""
    if not isinstance(stored, dict):
        return "has no key (made by older code)"
    if stored.get("kind") != wanted["kind"]:
        return f"is a {stored.get('kind')} artifact, not a {wanted['kind']} one"
    if stored.get("recipe") != wanted["recipe"]:
        return f"was made by older code (recipe {stored.get('recipe')}, now {wanted['recipe']})"
    old, new = stored.get("split") or {}, wanted["split"] or {}
    for name, what in (("seed", "seed {}'s split"), ("val_size", "{} images held out"),
                       ("train_size", "a training subset of {}")):
        if old.get(name) != new.get(name):
            return f"was made on {what.format(old.get(name))}, this run uses {what.format(new.get(name))}"
    old, new = stored.get("settings") or {}, wanted["settings"]
    if changed := [name for name in sorted({*old, *new}) if old.get(name) != new.get(name)]:
        return "was made with " + ", ".join(f"{n}={old.get(n)} (this run: {new.get(n)})" for n in changed)
    if stored.get("data") != wanted["data"]:
        return "was made from other data"
    if stored.get("made_from") != wanted["made_from"]:
        return "was made from another teacher or model"
    return None if stored == wanted else "has another key"


def code_digest(modules):
    """A digest of the code of `modules`, blind to comments and docstrings (they change no number)."""
    h = hashlib.sha256()
    for name in modules:
        with open(importlib.util.find_spec(name).origin) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        h.update(name.encode() + ast.dump(tree).encode())
    return h.hexdigest()[:16]
