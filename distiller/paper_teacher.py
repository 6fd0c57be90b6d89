"""The paper's regularized teacher (jitter, dropout, max-norm), trained once and saved: the paper stage
distils from it, and so do fractions, widths and digits78 with --distil-from paper."""

import dataclasses
import shutil

import keras

from distiller import atomic, models, resume
from distiller.evaluate import count_errors, predictions
from distiller.training import logits, train_on_labels


def get_paper_teacher(config, data, out, log=print):
    path, backup = out / "paper_teacher.keras", out / resume.BACKUPS / "paper_teacher"
    if path.exists() and not config.retrain:
        shutil.rmtree(backup, ignore_errors=True)  # left by a kill between the save and its removal
        log(f"Paper teacher: reusing {path}")
        return models.load(path, "paper teacher", remedy="pass --retrain to train a new one")
    log(f"Paper teacher: 1200-1200 with jitter, dropout and max-norm, {config.paper_teacher_epochs} epochs")
    keras.utils.set_random_seed(config.seed)
    teacher = models.paper_teacher()
    # More epochs than the plain nets: dropout and jitter slow learning.
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)
    history = train_on_labels(teacher, data.train, data.val, settings, backup_dir=backup, name="paper teacher")
    record = {"config": dataclasses.asdict(settings), "seconds": round(history.seconds),
              "val_errors": count_errors(predictions(logits(teacher, data.val[0])), data.val[1])}
    atomic.save_model(teacher, path)
    atomic.write_json(out / "paper_teacher.json", record)
    shutil.rmtree(backup, ignore_errors=True)
    return teacher
