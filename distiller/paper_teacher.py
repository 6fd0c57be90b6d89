"""The paper's regularized teacher (jitter, dropout, max-norm), trained once and saved: the paper stage
distils from it, and so do consistent, and fractions, widths and digits78 with --distil-from paper.

With --paper-teachers N it is an ensemble (the paper's route to a better teacher): N such nets trained from
seeds seed, seed+1, ... on the same split, their logits averaged. Each member is a file of its own, so a
run with N+1 members trains only the new one."""

import dataclasses
import shutil

import keras

from distiller import atomic, models, resume
from distiller.evaluate import count_errors, predictions
from distiller.training import logits, train_on_labels


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


def get_member(config, data, out, i, log):
    name = member_name(i)
    path, backup = out / f"{name}.keras", out / resume.BACKUPS / name
    label = "Paper teacher" + (f" {i + 1} of {config.paper_teachers}" if config.paper_teachers > 1 else "")
    if path.exists() and not config.retrain:
        shutil.rmtree(backup, ignore_errors=True)  # left by a kill between the save and its removal
        log(f"{label}: reusing {path}{epochs_mismatch(out / f'{name}.json', config.paper_teacher_epochs)}")
        return models.load(path, label.lower(), remedy="pass --retrain to train a new one")
    log(f"{label}: 1200-1200 with jitter, dropout and max-norm, {config.paper_teacher_epochs} epochs")
    keras.utils.set_random_seed(config.seed + i)  # the same split for every member, other weights and streams
    teacher = models.paper_teacher(name=name)
    # More epochs than the plain nets: dropout and jitter slow learning.
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)
    history = train_on_labels(teacher, data.train, data.val, settings, backup_dir=backup, name=label.lower())
    record = {"config": dataclasses.asdict(settings), "weights_seed": config.seed + i, "seconds": round(history.seconds),
              "val_errors": count_errors(predictions(logits(teacher, data.val[0])), data.val[1])}
    atomic.save_model(teacher, path)
    atomic.write_json(out / f"{name}.json", record)
    shutil.rmtree(backup, ignore_errors=True)
    return teacher


def epochs_mismatch(record_path, asked):
    """Why a reused net may not be the one asked for: a saved net is reused whatever --paper-teacher-epochs says,
    so a user asking for a longer-trained teacher is told, not silently given the old one."""
    trained = atomic.read_json(record_path, {}).get("config", {}).get("epochs")
    if trained in (None, asked):
        return ""
    return (f", trained for {trained} epochs, not the {asked} of --paper-teacher-epochs (to train one for {asked}:"
            " another --out-dir, or --retrain, which trains every model anew)")
