"""The paper's regularized teacher (models.paper_teacher: 2-pixel jitter, dropout, max-norm), its one recipe:
config.paper_teacher_epochs epochs from the weights seed config.seed. Make run's Student2.0, the paper stage, and
fractions, widths and digits78 with --distil-from paper distil from it.

It trains for about an hour and a half on 2 cores, so it is committed (saved_models/paper_teacher.keras, with its
key, file digest and the command that made it in paper_teacher.json). A run reuses the one in its output folder,
else the committed one (--paper-teacher FILE or $DISTILLER_PAPER_TEACHER, else the checkout's: an installed package
has none), when its key matches this run's (split, data, settings, training code) and its file its digest;
otherwise it trains a new one. Before any training, a run that will train one says so in one line (`announce`):
why, where the committed one is to be had, and what the training costs. --retrain-paper-teacher trains it anew."""

import dataclasses
import os
import shutil
from pathlib import Path

import keras

from distiller import artifacts, cache, keys, models, resume
from distiller.errors import DistillerError
from distiller.evaluate import count_errors, predictions
from distiller.models import logits
from distiller.training import train_on_labels, training_key

NAME = "paper_teacher"
COMMITTED = Path(__file__).resolve().parents[1] / "saved_models"  # where the committed teacher lies in a checkout
ENV = "DISTILLER_PAPER_TEACHER"  # the committed teacher's file, for a package installed without the checkout
WHERE = ("saved_models/paper_teacher.keras of the distiller repository (with paper_teacher.json beside it): pass it "
         f"as --paper-teacher FILE or ${ENV}")
MODEL = "paper teacher 1200-1200: jitter, dropout, max-norm"
# What it costs to train, per epoch and training image: the committed one took 5,428 s for 600 epochs on 55,000
# images (2 cores without AVX-512, 2026-12-02; README).
SECONDS_PER_EPOCH_AND_IMAGE = 5428 / (600 * 55_000)


def paper_teacher_key(config, data):
    """Its key: the paper teacher's epochs, the weights seed, the split and data, the code (keys.RECIPES)."""
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)
    return training_key(settings, data.train, config.seed, model=MODEL)


def get_or_train_paper_teacher(config, data, out, log=print):
    """The paper teacher of this run: saved (in `out`, else committed) under this run's key, or trained now (an hour
    and a half; `announce` said so first) and saved in `out`."""
    artifact_key, backup = paper_teacher_key(config, data), out / resume.BACKUPS / NAME
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs)

    def train():
        log(f"Paper teacher: 1200-1200 with jitter, dropout and max-norm, {config.paper_teacher_epochs} epochs "
            f"({training_cost(config, data)}; a kill resumes from the last epoch)")
        keras.utils.set_random_seed(config.seed)
        teacher = models.paper_teacher(name=NAME)
        # More epochs than the plain nets: dropout and jitter slow learning.
        history = train_on_labels(teacher, data.train, data.val, settings, backup_dir=backup, name="paper teacher",
                                  artifact_key=artifact_key)
        return teacher, {"weights_seed": config.seed, "seconds": round(history.seconds),
                         "val_errors": count_errors(predictions(logits(teacher, data.val[0])), data.val[1])}

    teacher, _ = artifacts.get_or_train(out, NAME, artifact_key, "Paper teacher", train, settings, log,
                                        config.retrain_paper_teacher,
                                        found=None if config.retrain_paper_teacher else reused_file(config, out))
    shutil.rmtree(backup, ignore_errors=True)  # also one left by a kill between the save and its removal
    return teacher


def saved(config, data, out, log=print):
    """The paper teacher saved in `out` (else the committed one) if made as this run's would be; else None, with
    one line on why ("... was made on a training subset of None, this run uses a training subset of 3000")."""
    return artifacts.reused(reused_file(config, out), paper_teacher_key(config, data), "Paper teacher", log)


def reused_file(config, out):
    """The saved paper teacher a run looks at: its output folder's, else the committed one (committed_file)."""
    own = out / f"{NAME}.keras"
    return own if own.exists() else committed_file(config)


def committed_file(config):
    """The committed paper teacher: --paper-teacher, else $DISTILLER_PAPER_TEACHER, else the checkout's (the path
    where it would be; an installed package has none). A file named but missing is an error."""
    given, flag = (config.paper_teacher, "--paper-teacher") if config.paper_teacher else (os.environ.get(ENV), f"${ENV}")
    if not given:
        return COMMITTED / f"{NAME}.keras"
    if not Path(given).is_file():
        raise DistillerError(f"{flag} names no file: {given}; the committed paper teacher is {WHERE}")
    return Path(given)


def announce(config, data, out, log=print):
    """Before any training, one line when this run will train the paper teacher: why (none found, with where to
    get the committed one; or the one found was made otherwise), and what the training costs."""
    cost = f"this run will train one: {config.paper_teacher_epochs} epochs, {training_cost(config, data)}"
    path = reused_file(config, out)
    if config.retrain_paper_teacher:
        log(f"Paper teacher: --retrain-paper-teacher: {cost}")
    elif not path.exists():
        log(f"Paper teacher: none in {out}/ nor at {path}; {cost}. The committed one is {WHERE}")
    elif (why := artifacts.why_not_reused(path, paper_teacher_key(config, data))) is not None:
        log(f"Paper teacher: {path} {why}; {cost}")


def training_cost(config, data):
    """"about 1 h 30 min on 2 cores": config.paper_teacher_epochs on data's training split."""
    return cost_of(config.paper_teacher_epochs, len(data.train[0]))


def cost_of(epochs, images):
    """What a 1200-1200 teacher with jitter and dropout costs for `epochs` on `images`, at the committed teacher's
    speed (2 cores without AVX-512)."""
    seconds = epochs * images * SECONDS_PER_EPOCH_AND_IMAGE
    return f"about {resume.duration(seconds)} on 2 cores" if seconds >= 60 else "under a minute on 2 cores"


def targets(teacher, data, cache_dir, log=print):
    """What the paper teacher teaches: "views", its logits for the 25 shifted views of every training image (with
    the validation images' logits: the pair a consistent student distils from); "fixed", (its logits on the
    training images, on the validation images); "test", on the test images; "teacher_id", its name in keys."""
    log("Paper teacher: logits for the 25 shifted views of every training image (cached)")
    views = cache.teacher_view_logits_for(teacher, data, cache_dir)
    fixed, test = cache.teacher_logits_for(teacher, data, cache_dir), logits(teacher, data.test[0])
    # Rows trained without the teacher but measured against it are keyed by teacher_id.
    return {"fixed": fixed, "views": views, "test": test, "teacher_id": keys.weights_digest(teacher)[:8]}
