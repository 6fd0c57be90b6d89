"""The paper's regularized teacher (models.paper_teacher: 2-pixel jitter, dropout, max-norm), its one recipe:
config.paper_teacher_epochs epochs from the weights seed config.seed. Make run's Student2.0, the paper stage, and
fractions, widths and digits78 with --distil-from paper distil from it.

It trains for about an hour and a half on 2 cores, so it is committed (saved_models/paper_teacher.keras, with its
key, file digest and the command that made it in paper_teacher.json). A run reuses the one in its output folder,
else the committed one, when its key matches this run's (split, data, settings, training code) and its file its
digest; otherwise it trains a new one, saying why in one line. --retrain-paper-teacher trains it anew."""

import dataclasses
import shutil
from pathlib import Path

import keras

from distiller import cache, keys, models, resume
from distiller.evaluate import count_errors, predictions
from distiller.stages.shared import save_model, saved_model
from distiller.training import key, logits, train_on_labels

NAME = "paper_teacher"
COMMITTED = Path(__file__).resolve().parents[1] / "saved_models"  # where the committed teacher lies
MODEL = "paper teacher 1200-1200: jitter, dropout, max-norm"


def paper_teacher_key(config, data):
    """Its key: the paper teacher's epochs, the weights seed, the split and data, the code (keys.RECIPES)."""
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)
    return key(settings, data.train, config.seed, model=MODEL)


def get_paper_teacher(config, data, out, log=print):
    """The paper teacher of this run: saved (in `out`, else committed) under this run's key, or trained now."""
    artifact_key, backup = paper_teacher_key(config, data), out / resume.BACKUPS / NAME
    teacher = None if config.retrain_paper_teacher else saved(config, data, out, log)
    if teacher is not None:
        shutil.rmtree(backup, ignore_errors=True)  # left by a kill between the save and its removal
        return teacher
    log(f"Paper teacher: 1200-1200 with jitter, dropout and max-norm, {config.paper_teacher_epochs} epochs "
        "(about an hour and a half on 2 cores; a kill resumes from the last epoch)")
    keras.utils.set_random_seed(config.seed)
    teacher = models.paper_teacher(name=NAME)
    # More epochs than the plain nets: dropout and jitter slow learning.
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)
    history = train_on_labels(teacher, data.train, data.val, settings, backup_dir=backup, name="paper teacher",
                              artifact_key=artifact_key)
    record = {"weights_seed": config.seed, "seconds": round(history.seconds),
              "val_errors": count_errors(predictions(logits(teacher, data.val[0])), data.val[1])}
    save_model(teacher, out, NAME, settings, record, artifact_key)
    shutil.rmtree(backup, ignore_errors=True)
    return teacher


def saved(config, data, out, log=print):
    """The paper teacher saved in `out` (else the committed one) if made as this run's would be; else None, with
    one line on why ("... was made on a training subset of None, this run uses a training subset of 3000")."""
    folder = out if (out / f"{NAME}.keras").exists() else COMMITTED
    return saved_model(folder, NAME, paper_teacher_key(config, data), "Paper teacher", log)


def targets(teacher, data, cache_dir, log=print):
    """What the paper teacher teaches: "views", its logits for the 25 shifted views of every training image (with
    the validation images' logits: the pair a consistent student distils from); "fixed", (its logits on the
    training images, on the validation images); "test", on the test images; "teacher_id", its name in keys."""
    log("Paper teacher: logits for the 25 shifted views of every training image (cached)")
    views = cache.teacher_view_logits_for(teacher, data, cache_dir)
    fixed, test = cache.teacher_logits_for(teacher, data, cache_dir), logits(teacher, data.test[0])
    # Rows trained without the teacher but measured against it are keyed by teacher_id.
    return {"fixed": fixed, "views": views, "test": test, "teacher_id": keys.weights_digest(teacher)[:8]}
