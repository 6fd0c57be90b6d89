"""Saved models and their records: one get-or-train for every model a stage keeps.

A model is saved as NAME.keras with NAME.json beside it: its key (keys.key), the SHA-256 of the file, the config and
numbers it came from, and the command that made it. It is reused only when both match (`why_not_reused` says in one
line what differs); else it is trained and saved anew.
"""

import dataclasses
import datetime
from pathlib import Path

from distiller import atomic, keys, models, report
from distiller.data import sha256 as file_digest  # one SHA-256 of a file: MNIST is checked with it too
from distiller.evaluate import summary
from distiller.models import logits


def get_or_train(folder, name, artifact_key, title, train, config, log=print, retrain=False, found=None):
    """(model, its saved record): the model saved as `name` in `folder` (or at `found`, a .keras file elsewhere) if
    it was made as `artifact_key` says and `retrain` is false; else train() -> (model, record), saved in `folder`
    with `config`, `record` and the key."""
    path = Path(found or Path(folder) / f"{name}.keras")
    model = None if retrain else reused(path, artifact_key, title, log)
    if model is None:
        model, record = train()
        save(model, folder, name, config, record, artifact_key)
        path = Path(folder) / f"{name}.keras"
    return model, saved_record(path)


def reused(path, artifact_key, title, log=print):
    """The model saved at `path` if it was made as `artifact_key` says; else None, with one line on what differs
    ("saved_models/teacher.keras was made on seed 0's split, this run uses seed 1's; training a new one")."""
    if not path.exists():
        return None
    if (why := why_not_reused(path, artifact_key)) is None:
        log(f"{title}: reusing {path}, made with this run's settings, split, data and code")
        return models.load(path, title, remedy="pass --retrain to train a new one")
    log(f"{title}: {path} {why}; training a new one")
    return None


def why_not_reused(path, artifact_key):
    """None when the model saved at `path` (its key in the .json beside it) was made as `artifact_key` says and is
    the file that key was written for; else what differs, in words."""
    stored = atomic.read_json(path.with_suffix(".json"), {})
    why = keys.difference(stored.get("key"), artifact_key)
    if why is None and stored.get("sha256") not in (None, file_digest(path)):
        why = "is not the file its key was written for (its SHA-256 differs: changed or damaged)"
    return why


def save(model, folder, name, config, record, artifact_key):
    """Save `name`.keras with `name`.json beside it: its key, the config and numbers it came from.
    The old .json goes first: a kill before the new one is written leaves a model without a key (made anew by
    the next run), never a model under another model's key."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").unlink(missing_ok=True)
    atomic.save_model(model, folder / f"{name}.keras")
    made_by = {"command": report.command_line(), "commit": report.commit(), "machine": report.machine(),
               "date": datetime.date.today().isoformat()}
    atomic.write_json(folder / f"{name}.json", {"key": artifact_key, "sha256": file_digest(folder / f"{name}.keras"),
                                                "config": dataclasses.asdict(config), "record": record,
                                                "made_by": made_by})


def saved_record(path):
    """The record saved beside the model at `path` ({} when none)."""
    return atomic.read_json(Path(path).with_suffix(".json"), {}).get("record", {})


def model_record(model, test, seconds, seed, artifact_key=None):
    """A model's numbers on the test split, with the digest of its key (keys.digest) when it has one."""
    return {
        "parameters": model.count_params(),
        **summary(logits(model, test[0]), test[1]),
        "seconds": None if seconds is None else round(seconds, 1),
        "seed": seed,
        **({} if artifact_key is None else {"key": keys.digest(artifact_key)}),
    }

