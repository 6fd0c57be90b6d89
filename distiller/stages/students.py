"""Student 784-600-600-10 on labels and Student2.0 (the same net distilled), once per seed from the same
initial weights, so that their difference is paired. The first seed's models are saved for class 3."""

import keras
import numpy as np

from distiller import keys, models, resume
from distiller.evaluate import mean_std
from distiller.stages.shared import save_model, test_record
from distiller.training import distil, key, train_on_labels

NAME = "students"


def run(ctx, progress):
    records = train_students(ctx.config, ctx.data, ctx.teacher_logits, ctx.out, progress, ctx.log)
    return {**records, "statistics": seed_statistics(records)}


def train_students(config, data, teacher_logits, out, progress=resume.UNRECORDED, log=print):
    """{"student": [record per seed], "student_kd": [...]}. Each (model, seed) is a unit of `progress`:
    a rerun after a kill skips the finished ones."""
    records = {"student": [], "student_kd": []}
    progress.expect(2 * config.seeds)
    for seed in range(config.seed, config.seed + config.seeds):
        for name, soft in (("student", None), ("student_kd", teacher_logits)):
            unit = f"{name}-seed{seed}-{keys.digest(student_key(config, data, seed, soft))}"
            train = lambda backup, name=name, seed=seed, soft=soft: train_student(
                config, data, soft, seed, out, name, backup, log)
            label = f"{'Student' if soft is None else 'Student2.0'} (seed {seed})"
            records[name].append(progress.run(unit, train, label))
    return records


def student_key(config, data, seed, teacher_logits=None):
    """The key of the Student (teacher_logits None) or Student2.0 of one seed: saved model, unit and backup."""
    soft = None if teacher_logits is None else teacher_logits[0]
    return key(config, data.train, seed, soft, model="student 600-600")


def train_student(config, data, teacher_logits, seed, out, name, backup, log=print):
    """One Student (teacher_logits None) or Student2.0 of one seed; the first seed's is saved (as `name`)."""
    title = "Student" if teacher_logits is None else "Student2.0"
    how = "training 784-600-600-10 on labels" if teacher_logits is None else (
        f"distilling at T={config.temperature:g}, lambda={config.lambda_:g}")
    log(f"{title} (seed {seed}): {how}")
    keras.utils.set_random_seed(seed)
    student = models.student()
    artifact_key = student_key(config, data, seed, teacher_logits)
    options = {"backup_dir": backup, "name": f"{title} (seed {seed})", "seed": seed, "artifact_key": artifact_key}
    if teacher_logits is None:
        seconds = train_on_labels(student, data.train, data.val, config, **options).seconds
    else:
        seconds = distil(student, data.train, data.val, teacher_logits, config, **options).seconds
    record = test_record(student, data.test, seconds, seed, artifact_key)
    if seed == config.seed:  # the first seed's models are the ones later stages load
        save_model(student, out, name, config, record, artifact_key)
    return record


def seed_statistics(records):
    """Mean and std of test errors per model, and of the paired difference Student2.0 - Student."""
    plain = np.array([r["errors"] for r in records["student"]], dtype=float)
    kd = np.array([r["errors"] for r in records["student_kd"]], dtype=float)
    return {"n": len(plain), "student": mean_std(plain), "student_kd": mean_std(kd), "difference": mean_std(kd - plain)}


def table_rows(section):
    s = section["result"]
    return [(f"Student 600-600 (seed {s['student'][0]['seed']})", s["student"][0]),
            (f"Student2.0 600-600 (seed {s['student_kd'][0]['seed']})", s["student_kd"][0])]


def render(section, name=NAME):
    s, c = section["result"]["statistics"], section["config"]
    per_seed = lambda model: ", ".join(str(r["errors"]) for r in section["result"][model])
    return [
        f"## Student vs Student2.0 over {s['n']} seed(s) (T={c['temperature']:g}, lambda={c['lambda_']:g})", "",
        "| model | test errors, mean +- std | per seed |", "|---|---:|---|",
        f"| Student | {s['student']['mean']:.1f} +- {s['student']['std']:.1f} | {per_seed('student')} |",
        f"| Student2.0 | {s['student_kd']['mean']:.1f} +- {s['student_kd']['std']:.1f} | {per_seed('student_kd')} |",
        f"| paired difference (Student2.0 - Student) | {s['difference']['mean']:+.1f} +- {s['difference']['std']:.1f} | |",
        "",
    ]
