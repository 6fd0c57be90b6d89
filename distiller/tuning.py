"""keras-tuner's search of Student2.0's T, lambda, epochs and views, scored on validation accuracy only.

By default against the paper teacher, the teacher make run's Student2.0 learns from."""

import dataclasses
import datetime
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from distiller import atomic, cache, keys, models, paper_teacher, report, search_report
from distiller.batches import EpochOrder
from distiller.data import prepare_data
from distiller.distiller import Distiller
from distiller.errors import DistillerError, deferred
from distiller.progress import ProgressBar
from distiller.training import TRAINING_SETTINGS, adam_with_cosine_decay, train_on_labels, training_key

# The search space, fixed before the search whose best trial is in config (written 2026-12-02, before it ran).
# T: wide enough to hold the paper's T = 20 and to show where distillation stops helping; lambda = 10 lets the soft
# term dominate; lambda = 0 is left out: it is the plain Student at every T, trained once beside the search
# (plain_student_accuracy) as the bar to beat. Epochs: make run trains Student2.0, its jittered control and
# Student2.0(-3) for as many; 40 is the most that keeps a clean clone's make run within 20 minutes on 2 cores here
# (AVX-512; a consistent 600-600 epoch takes about 3.5 s). A first search over 10 and 20 was stopped after two
# trials (2026-12-02): 20 consistent epochs left 53 validation errors, where 60 had left 36-43 on older code.
# Views: "consistent", a random shifted view of each image at every step, taught by the teacher's logits for that
# view (Beyer et al. 2022); "fixed", the images themselves.
TEMPERATURES = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
LAMBDAS = [0.3, 1.0, 3.0, 10.0]
EPOCHS = [20, 40]
VIEWS = ["fixed", "consistent"]
OBJECTIVE = kt.Objective("val_accuracy", direction="max")
TARGETS = {"fixed": "teacher_logits", "consistent": "view_logits"}  # the Distiller's input of each kind of views


class DistillationHyperModel(kt.HyperModel):
    """A fresh Student inside a Distiller per trial; the teacher's logits (on the images and on their 25 views)
    come with the data. `epochs` and `views`: the choices searched (one value: fixed)."""

    def __init__(self, config, train_size, epochs=EPOCHS, views=VIEWS):
        super().__init__(name="student_kd")
        self.config, self.train_size, self.epochs, self.views = config, train_size, list(epochs), list(views)

    def build(self, hp):
        keras.utils.set_random_seed(self.config.seed)  # every trial starts from the same weights
        distiller = Distiller(student=models.student())
        epochs = hp.Choice("epochs", self.epochs)
        views = hp.Choice("views", self.views)
        # Compiled here, not by the tuner: a Distiller's compile takes temperature and lambda_, and the cosine
        # schedule spans the trial's epochs.
        distiller.compile(
            optimizer=adam_with_cosine_decay(dataclasses.replace(self.config, epochs=epochs), self.train_size),
            metrics=["accuracy"],
            temperature=hp.Choice("temperature", TEMPERATURES),
            lambda_=hp.Choice("lambda_", LAMBDAS),
            jit_compile=self.config.jit_compile,
            steps_per_execution=self.config.steps_per_execution,
        )
        # Built on a dummy batch, so that get_best_models() can load the saved weights.
        shape = (1, 25, models.NUM_CLASSES) if views == "consistent" else (1, models.NUM_CLASSES)
        distiller({"pixels": np.zeros((1, models.INPUT_DIM), np.float32), TARGETS[views]: np.zeros(shape, np.float32)})
        return distiller

    def fit(self, hp, model, x, y, batch_size, callbacks=(), **kwargs):
        # The trial's targets: the teacher's logits on the images or on their views (validation: on the images).
        x = {"pixels": x["pixels"], TARGETS[hp.values["views"]]: x[TARGETS[hp.values["views"]]]}
        if "tuner/epochs" not in hp.values:  # Hyperband budgets the epochs itself
            kwargs["epochs"] = hp.values["epochs"]
        # A new batch order every epoch, the same in every trial (batches.EpochOrder): made here, per trial,
        # since keras-tuner deep-copies the callbacks it is given.
        order = EpochOrder(x, y, batch_size, self.config.seed)
        with deferred():  # Ctrl-C stops a trial at the progress bar's next step, as in training.fit
            return model.fit(order.dataset, shuffle=False, validation_batch_size=batch_size,
                             callbacks=[order, *callbacks], **kwargs)


class TimedTrials:
    """Mixed into a tuner: writes each trial's wall time next to its trial.json."""

    def run_trial(self, trial, *args, **kwargs):
        start = time.perf_counter()
        result = super().run_trial(trial, *args, **kwargs)
        seconds = {"seconds": round(time.perf_counter() - start, 1)}
        atomic.write_json(Path(self.get_trial_dir(trial.trial_id)) / "seconds.json", seconds)
        return result


TUNERS = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband,
          "grid": kt.GridSearch}


def make_tuner(kind, hypermodel, trials, epochs, seed, directory, project, overwrite=False):
    cls = type(f"Timed{TUNERS[kind].__name__}", (TimedTrials, TUNERS[kind]), {})
    budget = {"max_epochs": epochs} if kind == "hyperband" else {"max_trials": trials}  # Hyperband budgets epochs
    return cls(hypermodel, objective=OBJECTIVE, seed=seed, directory=str(directory), project_name=project,
               overwrite=overwrite, **budget)


def trial_rows(tuner, epochs):
    """Every completed trial as a dict, best first."""
    rows = []
    for trial in tuner.oracle.trials.values():
        if trial.score is None:
            continue
        seconds_file = Path(tuner.get_trial_dir(trial.trial_id)) / "seconds.json"
        values = trial.hyperparameters.values
        rows.append({
            "trial": trial.trial_id,
            "temperature": values["temperature"],
            "lambda_": values["lambda_"],
            "views": values.get("views", "fixed"),
            "val_accuracy": trial.score,
            "epochs": values.get("tuner/epochs", values.get("epochs", epochs)),  # Hyperband gives trials fewer
            "best_epoch": trial.best_step + 1,
            "seconds": atomic.read_json(seconds_file, {}).get("seconds"),
        })
    return sorted(rows, key=lambda r: -r["val_accuracy"])


def plain_student_accuracy(config, data, directory, log=print):
    """Validation accuracy of a plain Student trained as long as one trial: the bar to beat. Stored in the project,
    so a resumed search does not train it again."""
    path = Path(directory) / "plain_student.json"
    artifact_key = training_key(config, data.train, config.seed, model="student 600-600")
    saved = atomic.read_json(path, {})
    if saved.get("key") == artifact_key and "val_accuracy" in saved:
        return saved["val_accuracy"]
    log("Training a plain Student for as many epochs as a trial: the bar the trials must beat")
    keras.utils.set_random_seed(config.seed)
    student = models.student()
    history = train_on_labels(student, data.train, data.val, config, verbose=0)
    accuracy = float(max(history.history["val_accuracy"]))  # like a trial's score: its best epoch
    atomic.write_json(path, {"key": artifact_key, "val_accuracy": accuracy})
    return accuracy


def teacher_and_data(config, teacher_path=None, log=print):
    """The splits, the teacher's logits (on the training images, on their 25 views, on the validation images) from
    the on-disk cache, and their id (cache.TeacherLogits.id). The teacher: the saved model at `teacher_path`, by
    default the paper teacher (OUT_DIR's, else the committed one) if it was made on this search's split and data."""
    out = Path(config.out_dir)
    data = prepare_data(config, log)
    if teacher_path is not None:
        teacher = models.load(teacher_path, "teacher")
    else:
        teacher = paper_teacher.saved(config, data, out, log)
        if teacher is None:
            raise DistillerError(f"no saved paper teacher made on this search's split and data (in {out}/ or at "
                                 f"{paper_teacher.committed_file(config)}): run `make run` (it trains one if none is "
                                 "committed), or pass --teacher with a saved teacher")
    fixed = cache.teacher_logits_for(teacher, data, out / "teacher_logits")
    views = cache.teacher_view_logits_for(teacher, data, out / "teacher_logits")
    return data, (fixed[0], views[0], fixed[1]), fixed.id  # the id of the teacher's logits names the views' too


def run(config, kind, trials, directory, project="search", overwrite=False, role=None, started=None, teacher=None,
        epochs=EPOCHS, views=VIEWS, log=print):
    """Search, then write the report; `role` is "chief" or "worker" inside a distributed search.

    `epochs` and `views`: the choices searched; config.epochs is the plain Student's epochs (the bar), and `started`
    is the perf_counter() at which the search began. `teacher` is the saved teacher's path (default: the paper
    teacher). Returns the report's Markdown (None for a chief or a worker).
    """
    start = started or time.perf_counter()
    if role == "chief":  # serves trials to the workers; needs no data
        make_tuner(kind, DistillationHyperModel(config, 1, epochs, views), trials, max(epochs), config.seed,
                   directory, project).search()
        return None
    data, targets, taught_by = teacher_and_data(config, teacher, log)
    overwrite = overwrite or not same_search(config, data, taught_by, kind, (epochs, views), Path(directory) / project,
                                             role, log)
    hypermodel = DistillationHyperModel(config, len(data.train[0]), epochs, views)
    tuner = make_tuner(kind, hypermodel, trials, max(epochs), config.seed, directory, project, overwrite)
    (fixed, views, val), log_dir = targets, Path(directory) / project / "tensorboard"
    tuner.search({"pixels": data.train[0], "teacher_logits": fixed, "view_logits": views}, data.train[1],
                 validation_data=({"pixels": data.val[0], "teacher_logits": val}, data.val[1]),
                 epochs=max(epochs), batch_size=config.batch_size,
                 # keras-tuner gives each trial its own log dir with its hyperparameters (HParams dashboard).
                 callbacks=[keras.callbacks.TensorBoard(str(log_dir)), ProgressBar()])
    if role == "worker":
        return None
    return write_report(config, tuner, data, kind, directory, project, time.perf_counter() - start, log)


def same_search(config, data, taught_by, kind, space, folder, role, log=print):
    """Whether the trials in `folder` were made by this search (keys.key: its settings, split, data, teacher and
    code); if not, the search starts afresh with one line saying why. The key is written for the next run. A
    worker of a distributed search only writes it (its chief's project is shared)."""
    settings = {name: getattr(config, name) for name in TRAINING_SETTINGS}
    space = {"temperature": TEMPERATURES, "lambda_": LAMBDAS, "epochs": list(space[0]), "views": list(space[1])}
    wanted = keys.key("distilled", {"tuner": kind, **settings, "space": space}, config, [*data.train],
                      [taught_by])
    path = folder / "search_key.json"
    stored = atomic.read_json(path, None)
    why = None if role == "worker" or not (folder / "oracle.json").exists() else keys.difference(stored, wanted)
    if why is not None:
        log(f"{folder}: its trials {why}; starting the search afresh")
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, wanted)
    return why is None


def write_report(config, tuner, data, kind, directory, project, seconds, log=print):
    folder = Path(directory) / project
    rows = trial_rows(tuner, config.epochs)
    if not rows:
        raise DistillerError(f"no completed trial in {folder}")
    best = {**{k: rows[0][k] for k in ("temperature", "lambda_", "epochs", "views", "val_accuracy")},
            "plain_student_val_accuracy": plain_student_accuracy(config, data, folder, log), "trial": rows[0]["trial"]}
    atomic.remove_leftovers(folder)  # what a kill during an earlier report left
    atomic.write_json(folder / "best.json", best)
    atomic.write_json(folder / "trials.json", rows)
    meta = {"date": datetime.date.today().isoformat(), "machine": report.machine(), "tuner": kind,
            "epochs": config.epochs, "seed": config.seed, "val_size": len(data.val[0]), "seconds": seconds,
            "command": report.command_line()}
    text = search_report.render(rows, best, meta)
    atomic.write_text(folder / "report.md", text)
    search_report.plot(rows, best["plain_student_val_accuracy"], folder)
    return text
