"""Students trained once per seed: every seed a unit of a stage's progress (resume.Units), named by the digest of its
key, so that a rerun after a kill skips the finished ones; plain and distilled students of a seed start from the
same initial weights (their difference is paired).

Every student goes through training.train_on_labels / training.distil; there is no other loop.
"""

import dataclasses

import keras
import numpy as np

from distiller import augment, keys, models, resume
from distiller.evaluate import summary
from distiller.models import logits
from distiller.training import distil, train_on_labels, training_key


def seeds_of(config, count=None):
    """The seeds of a run: config.seed, config.seed + 1, ... (`count` of them; default config.seeds)."""
    return list(range(config.seed, config.seed + (config.seeds if count is None else count)))


def unit_name(name, seed, artifact_key):
    """A unit's name in a stage's progress: `name`, its seed, and the digest of its key."""
    return f"{name}-seed{seed}-{keys.digest(artifact_key)}"


def run_unit(progress, name, seed, artifact_key, train, label, work=1):
    """train(backup_dir) -> the result of one seed's unit of `progress`, unless a run has finished it already."""
    return progress.run(unit_name(name, seed, artifact_key), train, f"{label} (seed {seed})", work=work)


def work(width, epochs):
    """What training an MLP of two `width` layers for `epochs` costs, in the units of resume.Units.expect (a
    300-epoch 800-800 student is about 23 times a 20-epoch 600-600 one)."""
    return epochs * (784 * width + width * width + 10 * width)


def new_student(units, seed):
    """A fresh MLP student of `units`; the same initial weights for every row of a seed (a paired difference)."""
    keras.utils.set_random_seed(seed)
    return models.mlp(units, f"student{units[0]}")


def fit_student(student, train, val, config, targets=None, jitter=False, **options):
    """Train `student` on `train` (x, y): on labels (targets None), on labels with the paper's jitter (the control of
    a student taught on shifted views), or distilled from targets = (the teacher's logits for the training images,
    for the validation images): per image, or per image and view (a consistent student). `options` go to
    training.train_on_labels / distil (seed, backup_dir, name, artifact_key, verbose)."""
    if targets is not None:
        return distil(student, train, val, targets, config, **options)
    if jitter:  # trains `student`'s own weights, behind a RandomShift seeded like its batch order
        student = keras.Sequential([keras.Input((models.INPUT_DIM,)), augment.RandomShift(options.get("seed")),
                                    student])
    return train_on_labels(student, train, val, config, **options)


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


def errors_per_seed(config, data, units, seeds, keep=None, teacher_logits=None, progress=resume.UNRECORDED):
    """Test errors of one student per seed, on the rows `keep` of the training split (tiled to its size): trained
    on labels, or distilled when teacher_logits (cache.TeacherLogits) is given. Same seeds, so plain and distilled
    share initial weights."""
    keep = np.ones(len(data.train[0]), bool) if keep is None else keep
    columns = (data.train[0][keep], data.train[1][keep])
    if teacher_logits is not None:
        columns += (teacher_logits[0][keep],)
    x, y, *transfer_logits = repeat_to(columns, len(data.train[0]))
    targets = None if teacher_logits is None else (transfer_logits[0], teacher_logits[1])
    kind = "plain" if teacher_logits is None else f"T{config.temperature:g}-lambda{config.lambda_:g}"
    taught_by = None if teacher_logits is None else teacher_logits.id
    unit_key = lambda seed: training_key(config, (x, y), seed, taught_by, model=f"mlp {units[0]}-{units[1]}")
    label = f"Student {units[0]}-{units[1]} {kind}"

    def train(seed, backup):
        student = new_student(units, seed)
        fit_student(student, (x, y), data.val, config, targets, verbose=0, backup_dir=backup,
                    name=f"{label} (seed {seed})", seed=seed, artifact_key=unit_key(seed))
        return test_errors(student, data)

    return [run_unit(progress, f"{units[0]}-{units[1]}-{kind}", seed, unit_key(seed),
                     lambda backup, seed=seed: train(seed, backup), label) for seed in seeds]


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
