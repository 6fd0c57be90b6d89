"""The pipeline behind train.py: Teacher, Student and Student2.0 trained, saved and counted on test."""

import dataclasses
import json
import shutil
from pathlib import Path

import keras
import numpy as np

from distiller import atomic, cache, class3, models, report, resume, where_it_pays
from distiller.config import STAGES
from distiller.data import load_mnist, preprocess, split_validation
from distiller.errors import DistillerError
from distiller.evaluate import mean_std, summary
from distiller.training import distil, fingerprint, logits, train_on_labels
from distiller.where_it_pays import FROM_PAPER_TEACHER


@dataclasses.dataclass
class Splits:
    """Preprocessed (x, y) pairs. Choices use `val`; `test` is read only for the report."""

    train: tuple
    val: tuple
    test: tuple


def prepare_data(config, log=print):
    (x, y), (x_test, y_test) = load_mnist(config.data_dir, log=log)
    train, val = split_validation(preprocess(x), y.astype(np.int64), config.val_size, config.seed)
    if config.train_size:
        train = (train[0][: config.train_size], train[1][: config.train_size])
    return Splits(train, val, (preprocess(x_test), y_test.astype(np.int64)))


def output_dir(config):
    out = Path(config.out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ".write-test").write_text("")
        (out / ".write-test").unlink()
    except OSError as e:
        raise DistillerError(f"cannot write to the output directory {out}: {e.strerror or e}") from None
    return out


def save_model(model, out, name, config, record):
    """Save `name`.keras with `name`.json beside it: the config and numbers it came from."""
    atomic.save_model(model, out / f"{name}.keras")
    atomic.write_json(out / f"{name}.json", {"config": dataclasses.asdict(config), "record": record})


def test_record(model, test, seconds, seed):
    return {
        "parameters": model.count_params(),
        **summary(logits(model, test[0]), test[1]),
        "seconds": None if seconds is None else round(seconds, 1),
        "seed": seed,
    }


def get_teacher(config, data, out, log=print):
    """The saved teacher unless config.retrain or none is saved; else train and save one."""
    path, backup = out / "teacher.keras", out / resume.BACKUPS / "teacher"
    if path.exists() and not config.retrain:
        shutil.rmtree(backup, ignore_errors=True)  # left by a kill between the save and its removal
        log(f"Teacher: reusing {path} (pass --retrain to train a new one)")
        teacher = models.load(path, "teacher", remedy="pass --retrain to train a new one")
        saved = read_json(path.with_suffix(".json"))
        record = test_record(teacher, data.test, saved.get("record", {}).get("seconds"), saved.get("record", {}).get("seed"))
        return teacher, record
    log("Teacher: training 784-1200-1200-10 on labels")
    keras.utils.set_random_seed(config.seed)
    teacher = models.teacher()
    seconds = train_on_labels(teacher, data.train, data.val, config, backup_dir=backup, name="Teacher").seconds
    record = test_record(teacher, data.test, seconds, config.seed)
    save_model(teacher, out, "teacher", config, record)
    shutil.rmtree(backup, ignore_errors=True)
    return teacher, record


def read_json(path):
    """A small record beside a model ({} when missing or unreadable: it only adds the training seconds)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def train_students(config, data, teacher_logits, out, progress=resume.UNRECORDED, log=print):
    """Student (labels) and Student2.0 (distilled) for each seed; both start from the same weights.
    Each (model, seed) is a unit of `progress`: a rerun after a kill skips the finished ones."""
    records = {"student": [], "student_kd": []}
    for seed in range(config.seed, config.seed + config.seeds):
        for name, soft in (("student", None), ("student_kd", teacher_logits)):
            key = f"{name}-seed{seed}-{fingerprint(config, data.train, None if soft is None else soft[0])}"
            train = lambda backup, name=name, seed=seed, soft=soft: train_student(
                config, data, soft, seed, out, name, backup, log)
            records[name].append(progress.run(key, train))
    return records


def train_student(config, data, teacher_logits, seed, out, name, backup, log=print):
    """One Student (teacher_logits None) or Student2.0 of one seed; the first seed's is saved."""
    title = "Student" if teacher_logits is None else "Student2.0"
    how = "training 784-600-600-10 on labels" if teacher_logits is None else (
        f"distilling at T={config.temperature:g}, lambda={config.lambda_:g}")
    log(f"{title} (seed {seed}): {how}")
    keras.utils.set_random_seed(seed)
    student = models.student()
    options = {"backup_dir": backup, "name": f"{title} (seed {seed})"}
    if teacher_logits is None:
        seconds = train_on_labels(student, data.train, data.val, config, **options).seconds
    else:
        seconds = distil(student, data.train, data.val, teacher_logits, config, **options).seconds
    record = test_record(student, data.test, seconds, seed)
    if seed == config.seed:  # the first seed's models are the ones later stages load
        save_model(student, out, name, config, record)
    return record


def seed_statistics(records):
    """Mean and std of test errors per model, and of the paired difference Student2.0 - Student."""
    plain = np.array([r["errors"] for r in records["student"]], dtype=float)
    kd = np.array([r["errors"] for r in records["student_kd"]], dtype=float)
    return {"n": len(plain), "student": mean_std(plain), "student_kd": mean_std(kd), "difference": mean_std(kd - plain)}


def run_class3(config, data, teacher_logits, out, progress=resume.UNRECORDED, log=print):
    """Student2.0 vs Student2.0(-3) vs Student2.0(-3) + b, with b chosen on the validation split."""
    student_kd = models.load(out / "student_kd.keras", "Student2.0 (student_kd)",
                             remedy="run `python train.py students` to train it again")
    log("Student2.0(-3): distilling on a transfer set with every 3 removed")
    minus3 = class3.train_minus3(config, data, teacher_logits, backup_dir=progress.backup_dir("minus3"))
    save_model(minus3, out, "student_kd_minus3", config, test_record(minus3, data.test, None, config.seed))
    minus3 = models.load(out / "student_kd_minus3.keras", "Student2.0(-3)")  # the experiment reads the saved file

    shifts = np.arange(0.0, config.bias_max + config.bias_step / 2, config.bias_step)
    curve = class3.bias_curve(logits(minus3, data.val[0]), data.val[1], shifts)
    b = class3.choose_bias(curve, config.bias_tolerance)
    rule = "fewest validation errors" if config.bias_tolerance is None else (
        f"largest b adding <= {config.bias_tolerance} validation errors on other classes")
    log(f"Bias of output 3: +{b:g} ({rule})")
    shifted = class3.shift_bias(minus3, b)
    records = {name: test_record(m, data.test, None, config.seed)
               for name, m in (("student_kd", student_kd), ("minus3", minus3), ("shifted", shifted))}
    save_model(shifted, out, "student_kd_minus3_shifted", config, {**records["shifted"], "bias": b})
    return {"records": records, "bias": b, "rule": rule, "curve": curve, "paper": class3.PAPER,
            "test_threes": int(np.sum(data.test[1] == class3.DIGIT))}


def run(config, stages=STAGES, log=print):
    """Run the named stages in order; each section of results.json is rewritten as it finishes.

    One run per output folder at a time. Killed, it resumes when run again: a model in training from
    its last epoch, a stage from its last finished unit."""
    out = output_dir(config)
    with resume.exclusive(out):
        if removed := atomic.remove_leftovers(out):
            log(f"Removed {removed} temporary file(s) that an interrupted run left in {out}/")
        data = prepare_data(config, log)
        teacher, teacher_record = get_teacher(config, data, out, log)
        report.update(out, "teacher", config, teacher_record, log)
        # Once per (teacher, data), kept on disk: reused by every stage, seed and tuner trial.
        teacher_logits = cache.teacher_logits_for(teacher, data, out / "teacher_logits")
        if "students" in stages:
            stage(out, "students", config, log, lambda progress: with_statistics(
                train_students(config, data, teacher_logits, out, progress, log)))
        if "class3" in stages:
            stage(out, "class3", config, log,
                  lambda progress: run_class3(config, data, teacher_logits, out, progress, log))
        if "paper" in stages:
            stage(out, "paper", config, log,
                  lambda progress: where_it_pays.paper_protocol(config, data, out, progress, log))
        if {"fractions", "widths", "digits78"} & set(stages):
            transfer_stages(config, data, teacher_logits, stages, out, log)
        resume.tidy(out)
        return report.write(out, log)


def stage(out, section, config, log, run_stage):
    """run_stage(progress) -> its section of results.json; the record of finished units is dropped
    once the section is written."""
    progress = resume.Units(out, section, log)
    report.update(out, section, config, run_stage(progress), log)
    progress.finish()


def with_statistics(records):
    return {**records, "statistics": seed_statistics(records)}


def transfer_stages(config, data, teacher_logits, stages, out, log=print):
    """fractions, widths, digits78: from the make-run teacher, or with --distil-from paper from the paper
    stage's regularized teacher, each then written to its own section (e.g. widths_from_paper_teacher)."""
    suffix = ""
    if config.distil_from == "paper":
        teacher = where_it_pays.get_paper_teacher(config, data, out, log)
        teacher_logits, suffix = cache.teacher_logits_for(teacher, data, out / "teacher_logits"), FROM_PAPER_TEACHER
    if "fractions" in stages:
        stage(out, f"fractions{suffix}", config, log,
              lambda progress: where_it_pays.transfer_fractions(config, data, teacher_logits, progress, log))
    if "widths" in stages:
        stage(out, f"widths{suffix}", config, log,
              lambda progress: where_it_pays.small_students(config, data, teacher_logits, progress, log))
    if "digits78" in stages:
        stage(out, f"digits78{suffix}", config, log, lambda progress: where_it_pays.digits_7_and_8(
            config, data, teacher_logits, out, progress=progress, log=log, name=f"student_78_shifted{suffix}"))
