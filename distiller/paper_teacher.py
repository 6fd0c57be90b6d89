"""The paper's regularized teacher (jitter, dropout, max-norm), trained once and saved: the paper stage
distils from it, and so do consistent, and fractions, widths and digits78 with --distil-from paper.

With --paper-teachers N it is an ensemble (the paper's route to a better teacher): N such nets trained from
seeds seed, seed+1, ... on the same split, their logits averaged. Each member is a file of its own, so a
run with N+1 members trains only the new one."""

import dataclasses
import shutil

import keras

from distiller import models, resume
from distiller.evaluate import count_errors, predictions
from distiller.stages.shared import save_model, saved_model
from distiller.training import key, logits, train_on_labels


def get_paper_teacher(config, data, out, log=print):
    members = [get_member(config, data, out, i, log) for i in range(config.paper_teachers)]
    if len(members) == 1:
        return members[0]
    teacher = models.ensemble(members, "paper_teacher_ensemble")
    val_errors = count_errors(predictions(logits(teacher, data.val[0])), data.val[1])
    log(f"Paper teacher: the mean of {len(members)} nets' logits, {val_errors} validation errors")
    return teacher


def member_name(i):
    """Member 0 keeps the single teacher's name (and file), so an ensemble reuses an existing paper teacher."""
    return "paper_teacher" if i == 0 else f"paper_teacher_{i + 1}"


def saved_members(out):
    """The .keras files of the paper teacher's nets saved in `out`, in order (member 1, 2, ... while they exist)."""
    paths = []
    while (out / f"{member_name(len(paths))}.keras").exists():
        paths.append(out / f"{member_name(len(paths))}.keras")
    return paths


def member_key(config, data, i):
    """The key of net i: the paper teacher's epochs, its own weights seed, the split and data, the code."""
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)
    return key(settings, data.train, config.seed + i, model="paper teacher 1200-1200: jitter, dropout, max-norm")


def get_member(config, data, out, i, log):
    name, artifact_key = member_name(i), member_key(config, data, i)
    backup = out / resume.BACKUPS / name
    label = "Paper teacher" + (f" {i + 1} of {config.paper_teachers}" if config.paper_teachers > 1 else "")
    teacher = None if config.retrain else saved_model(out, name, artifact_key, label, log)
    if teacher is not None:
        shutil.rmtree(backup, ignore_errors=True)  # left by a kill between the save and its removal
        return teacher
    log(f"{label}: 1200-1200 with jitter, dropout and max-norm, {config.paper_teacher_epochs} epochs")
    keras.utils.set_random_seed(config.seed + i)  # the same split for every member, other weights and streams
    teacher = models.paper_teacher(name=name)
    # More epochs than the plain nets: dropout and jitter slow learning.
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)
    history = train_on_labels(teacher, data.train, data.val, settings, backup_dir=backup, name=label.lower(),
                              seed=config.seed + i, artifact_key=artifact_key)
    record = {"weights_seed": config.seed + i, "seconds": round(history.seconds),
              "val_errors": count_errors(predictions(logits(teacher, data.val[0])), data.val[1])}
    save_model(teacher, out, name, settings, record, artifact_key)
    shutil.rmtree(backup, ignore_errors=True)
    return teacher
