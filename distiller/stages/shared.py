"""What several stages share: the record of a saved model, and students trained per seed, plain and
distilled from the same initial weights (so that their difference is paired), on a transfer set tiled
to the full set's size.

Every run goes through training.train_on_labels / training.distil; there is no other loop.
"""

import dataclasses
import datetime
import hashlib
from pathlib import Path

import keras
import numpy as np

from distiller import atomic, augment, keys, models, report, resume
from distiller.evaluate import summary
from distiller.training import distil, key, logits, train_on_labels


def test_record(model, test, seconds, seed, artifact_key=None):
    """A model's test numbers, with the digest of its key (keys.digest) when it has one."""
    return {
        "parameters": model.count_params(),
        **summary(logits(model, test[0]), test[1]),
        "seconds": None if seconds is None else round(seconds, 1),
        "seed": seed,
        **({} if artifact_key is None else {"key": keys.digest(artifact_key)}),
    }


def save_model(model, out, name, config, record, artifact_key):
    """Save `name`.keras with `name`.json beside it: its key (keys.key), the config and numbers it came from.
    The old .json goes first: a kill before the new one is written leaves a model without a key (made anew by
    the next run), never a model under another model's key."""
    (out / f"{name}.json").unlink(missing_ok=True)
    atomic.save_model(model, out / f"{name}.keras")
    made_by = {"command": report.command_line(), "commit": report.commit(), "machine": report.machine(),
               "date": datetime.date.today().isoformat()}
    atomic.write_json(out / f"{name}.json", {"key": artifact_key, "sha256": file_digest(out / f"{name}.keras"),
                                             "config": dataclasses.asdict(config), "record": record,
                                             "made_by": made_by})


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def saved_model(out, name, artifact_key, title, log=print):
    """The model saved as `name` if it was made as `artifact_key` says; else None, with one line on what
    differs ("saved_models/teacher.keras was made on seed 0's split, this run uses seed 1's; training a new one")."""
    path = out / f"{name}.keras"
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


def new_student(units, seed):
    """A fresh MLP student of `units`; the same initial weights for every row of a seed (a paired difference)."""
    keras.utils.set_random_seed(seed)
    return models.mlp(units, f"student{units[0]}")


def fit_student(student, data, config, soft=None, jitter=False, **options):
    """Train `student` on the training split: on labels (soft None), on labels with the paper's jitter (the
    control of a student taught on shifted views), or distilled from soft = (targets for the training images,
    for the validation images): logits per image, or per image and view (a consistent student). `options` go
    to training.train_on_labels / distil (seed, backup_dir, name, artifact_key, verbose)."""
    if soft is not None:
        return distil(student, data.train, data.val, soft, config, **options)
    if jitter:  # trains `student`'s own weights, behind a RandomShift seeded like its batch order
        student = keras.Sequential([keras.Input((models.INPUT_DIM,)), augment.RandomShift(options.get("seed")),
                                    student])
    return train_on_labels(student, data.train, data.val, config, **options)


def repeat_to(arrays, n):
    """Tile a small transfer set to at least n rows: it gets as many steps per epoch as the full one."""
    times = -(-n // len(arrays[0]))
    return tuple(np.concatenate([a] * times) for a in arrays)


def first_part(data, fraction):
    """(n, mask of the training split's first n rows): the split is already shuffled, so its first
    `fraction` is a random transfer set of at least 10 images."""
    n = max(10, round(fraction * len(data.train[0])))
    return n, np.arange(len(data.train[0])) < n


def test_errors(model, data):
    return summary(logits(model, data.test[0]), data.test[1])["errors"]


def seeds_of(config):
    return list(range(config.seed, config.seed + config.seeds))


def errors_per_seed(config, data, units, seeds, keep=None, teacher_logits=None, progress=resume.UNRECORDED):
    """Test errors of one student per seed, on the rows `keep` of the training split: trained on labels,
    or distilled when teacher_logits is given. Same seeds, so plain and distilled share initial weights.
    Each seed is a unit of `progress` (resume.Units): a rerun after a kill skips the finished ones."""
    keep = np.ones(len(data.train[0]), bool) if keep is None else keep
    columns = (data.train[0][keep], data.train[1][keep])
    if teacher_logits is not None:
        columns += (teacher_logits[0][keep],)
    x, y, *soft = repeat_to(columns, len(data.train[0]))
    kind = "plain" if teacher_logits is None else f"T{config.temperature:g}-lambda{config.lambda_:g}"
    taught_by = None if teacher_logits is None else teacher_logits.id  # cache.TeacherLogits
    unit_key = lambda seed: key(config, (x, y), seed, taught_by, model=f"mlp {units[0]}-{units[1]}")

    def train(seed, backup):
        keras.utils.set_random_seed(seed)
        student = models.mlp(units, f"student{units[0]}")
        options = {"verbose": 0, "backup_dir": backup, "name": f"Student {units[0]}-{units[1]} {kind} (seed {seed})",
                   "seed": seed, "artifact_key": unit_key(seed)}
        if teacher_logits is None:
            train_on_labels(student, (x, y), data.val, config, **options)
        else:
            distil(student, (x, y), data.val, (soft[0], teacher_logits[1]), config, **options)
        return test_errors(student, data)

    return [progress.run(f"{units[0]}-{units[1]}-{kind}-seed{seed}-{keys.digest(unit_key(seed))}",
                         lambda backup, seed=seed: train(seed, backup), f"Student {units[0]}-{units[1]} {kind} (seed {seed})")
            for seed in seeds]


def paired(config, data, teacher_logits, units, seeds, keep=None, progress=resume.UNRECORDED):
    return {"plain": errors_per_seed(config, data, units, seeds, keep, progress=progress),
            "distilled": errors_per_seed(config, data, units, seeds, keep, teacher_logits, progress)}


def distilled_per_setting(config, data, units, teacher_logits, settings, progress=resume.UNRECORDED, log=print):
    """{name: test errors per seed} for students distilled at each named (T, lambda) of `settings`."""
    runs = {}
    for name, (temperature, lambda_) in settings.items():
        log(f"Student {units[0]}-{units[1]} at T={temperature:g}, lambda={lambda_:g}, seeds {seeds_of(config)}")
        kd = dataclasses.replace(config, temperature=temperature, lambda_=lambda_)
        runs[name] = errors_per_seed(kd, data, units, seeds_of(config), teacher_logits=teacher_logits,
                                     progress=progress)
    return runs

