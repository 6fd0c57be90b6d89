"""The pipeline behind train.py: Teacher, Student and Student2.0 trained, saved and counted on test."""

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np

from distiller import cache, class3, models, report, where_it_pays
from distiller.config import STAGES
from distiller.data import load_mnist, preprocess, split_validation
from distiller.errors import DistillerError
from distiller.evaluate import mean_std, summary
from distiller.training import distil, logits, train_on_labels
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
    model.save(out / f"{name}.keras")
    info = {"config": dataclasses.asdict(config), "record": record}
    (out / f"{name}.json").write_text(json.dumps(info, indent=2) + "\n")


def test_record(model, test, seconds, seed):
    return {
        "parameters": model.count_params(),
        **summary(logits(model, test[0]), test[1]),
        "seconds": None if seconds is None else round(seconds, 1),
        "seed": seed,
    }


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def get_teacher(config, data, out, log=print):
    """The saved teacher unless config.retrain or none is saved; else train and save one."""
    path = out / "teacher.keras"
    if path.exists() and not config.retrain:
        log(f"Teacher: reusing {path} (pass --retrain to train a new one)")
        teacher = models.load(path, "teacher")
        saved = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
        record = test_record(teacher, data.test, saved.get("record", {}).get("seconds"), saved.get("record", {}).get("seed"))
        return teacher, record
    log("Teacher: training 784-1200-1200-10 on labels")
    keras.utils.set_random_seed(config.seed)
    teacher = models.teacher()
    seconds = timed(train_on_labels, teacher, data.train, data.val, config)
    record = test_record(teacher, data.test, seconds, config.seed)
    save_model(teacher, out, "teacher", config, record)
    return teacher, record


def train_students(config, data, teacher_logits, out, log=print):
    """Student (labels) and Student2.0 (distilled) for each seed; both start from the same weights."""
    records = {"student": [], "student_kd": []}
    for seed in range(config.seed, config.seed + config.seeds):
        log(f"Student (seed {seed}): training 784-600-600-10 on labels")
        keras.utils.set_random_seed(seed)
        student = models.student()
        records["student"].append(test_record(student, data.test, timed(train_on_labels, student, data.train, data.val, config), seed))
        log(f"Student2.0 (seed {seed}): distilling at T={config.temperature:g}, lambda={config.lambda_:g}")
        keras.utils.set_random_seed(seed)
        student_kd = models.student()
        seconds = timed(distil, student_kd, data.train, data.val, teacher_logits, config)
        records["student_kd"].append(test_record(student_kd, data.test, seconds, seed))
        if seed == config.seed:  # the first seed's models are the ones later stages load
            save_model(student, out, "student", config, records["student"][0])
            save_model(student_kd, out, "student_kd", config, records["student_kd"][0])
    return records


def seed_statistics(records):
    """Mean and std of test errors per model, and of the paired difference Student2.0 - Student."""
    plain = np.array([r["errors"] for r in records["student"]], dtype=float)
    kd = np.array([r["errors"] for r in records["student_kd"]], dtype=float)
    return {"n": len(plain), "student": mean_std(plain), "student_kd": mean_std(kd), "difference": mean_std(kd - plain)}


def run_class3(config, data, teacher_logits, out, log=print):
    """Student2.0 vs Student2.0(-3) vs Student2.0(-3) + b, with b chosen on the validation split."""
    student_kd = models.load(out / "student_kd.keras", "Student2.0 (student_kd)")
    log("Student2.0(-3): distilling on a transfer set with every 3 removed")
    minus3 = class3.train_minus3(config, data, teacher_logits)
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
    """Run the named stages in order; each section of results.json is rewritten as it finishes."""
    out = output_dir(config)
    data = prepare_data(config, log)
    teacher, teacher_record = get_teacher(config, data, out, log)
    report.update(out, "teacher", config, teacher_record)
    # Once per (teacher, data), kept on disk: reused by every stage, seed and tuner trial.
    teacher_logits = cache.teacher_logits_for(teacher, data, out / "teacher_logits")
    if "students" in stages:
        records = train_students(config, data, teacher_logits, out, log)
        report.update(out, "students", config, {**records, "statistics": seed_statistics(records)})
    if "class3" in stages:
        report.update(out, "class3", config, run_class3(config, data, teacher_logits, out, log))
    if "paper" in stages:
        report.update(out, "paper", config, where_it_pays.paper_protocol(config, data, out, log))
    if {"fractions", "widths", "digits78"} & set(stages):
        transfer_stages(config, data, teacher_logits, stages, out, log)
    return report.write(out)


def transfer_stages(config, data, teacher_logits, stages, out, log=print):
    """fractions, widths, digits78: from the make-run teacher, or with --distil-from paper from the paper
    stage's regularized teacher, each then written to its own section (e.g. widths_from_paper_teacher)."""
    suffix = ""
    if config.distil_from == "paper":
        teacher = where_it_pays.get_paper_teacher(config, data, out, log)
        teacher_logits, suffix = cache.teacher_logits_for(teacher, data, out / "teacher_logits"), FROM_PAPER_TEACHER
    if "fractions" in stages:
        result = where_it_pays.transfer_fractions(config, data, teacher_logits, log=log)
        report.update(out, f"fractions{suffix}", config, result)
    if "widths" in stages:
        report.update(out, f"widths{suffix}", config, where_it_pays.small_students(config, data, teacher_logits, log=log))
    if "digits78" in stages:
        result = where_it_pays.digits_7_and_8(config, data, teacher_logits, out, log, f"student_78_shifted{suffix}")
        report.update(out, f"digits78{suffix}", config, result)
