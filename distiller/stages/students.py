"""The assignment's students, once per seed and all from the same initial weights (paired differences):

  student             the Student: 784-600-600-10 on labels, exactly as the assignment says
  student_kd_teacher  Student2.0 distilled from the assignment's Teacher, which is no better than the Student
                      (trained well, without regularization): its soft targets have little to transfer
  student_jitter      the Student on labels with the paper's jitter, as long as Student2.0 (the control: what
                      the shifted views give without a teacher); only when Student2.0 sees shifted views
  student_kd          Student2.0: distilled from the paper teacher (paper_teacher.py) at the T, lambda, epochs
                      and views that tune.py chose on validation (config)

The first seed's models are saved; class 3 and export load student_kd."""

import dataclasses

import numpy as np

from distiller import atomic, keys, models, report, resume
from distiller.evaluate import count_errors, mean_std, predictions
from distiller.paper_teacher import paper_teacher_key
from distiller.stages import kept_seeds
from distiller.stages.shared import fit_student, new_student, save_model, saved_model, test_record
from distiller.training import key

NAME = "students"
NEEDS_PAPER_TEACHER = True  # Student2.0's teacher
TITLES = {"student": "Student", "student_kd_teacher": "Student2.0 from the Teacher",
          "student_jitter": "Student, jittered (control)", "student_kd": "Student2.0"}


@dataclasses.dataclass
class Row:
    """How one row's student is trained: its settings, the targets it is distilled from (None: labels), whether
    its images are jittered, and who taught it."""

    config: object
    soft: tuple | None = None  # cache.TeacherLogits: (targets for the training images, for the validation images)
    jitter: bool = False
    teacher: str | None = None


def run(ctx, progress):
    """The section: this run's seeds, and an earlier section's other seeds when made with this run's keys
    (kept_seeds: `make run` after `python train.py --seeds 3` keeps seeds 1 and 2)."""
    rows = all_rows(ctx)
    digests_of = lambda seed: {name: keys.digest(row_key(r, ctx.data, seed)) for name, r in rows.items()}
    earlier = report.read_results(ctx.out, ctx.log).get(NAME)
    records, kept = kept_seeds.keep(earlier, train_students(ctx, progress, rows), digests_of, ctx.log, NAME)
    teacher = paper_teacher_record(ctx)
    return {"paper_teacher": teacher, **records, "statistics": seed_statistics(records, teacher["errors"]),
            **({"kept": kept} if kept else {})}


def paper_teacher_record(ctx):
    """The paper teacher's test record (its saved training time), with its validation errors and key."""
    config, data = ctx.config, ctx.data
    artifact_key = paper_teacher_key(config, data)
    seconds = atomic.read_json(ctx.out / "paper_teacher.json", {}).get("record", {}).get("seconds")
    return {**test_record(ctx.paper_teacher, data.test, seconds, config.seed, artifact_key),
            "val_errors": count_errors(predictions(ctx.paper_teacher_logits[1]), data.val[1])}


def kd_config(config):
    """Student2.0's settings: its own epochs (config.kd_epochs); T and lambda are config's."""
    return dataclasses.replace(config, epochs=config.kd_epochs)


def names(config):
    return [name for name in TITLES if name != "student_jitter" or config.views == "consistent"]


def row(ctx, name):
    """The Row of `name` (TITLES) in this run: the teachers' targets are computed (or read from the cache) here."""
    config = ctx.config
    if name == "student":
        return Row(config)
    if name == "student_kd_teacher":
        return Row(dataclasses.replace(config, temperature=config.teacher_temperature, lambda_=config.teacher_lambda),
                   ctx.teacher_logits, teacher="the Teacher")
    if name == "student_jitter":
        return Row(kd_config(config), jitter=True)
    targets = ctx.paper_targets["views"] if config.views == "consistent" else ctx.paper_teacher_logits
    return Row(kd_config(config), targets, teacher="the paper teacher")


def all_rows(ctx):
    return {name: row(ctx, name) for name in names(ctx.config)}


def row_key(row, data, seed):
    """The key of one row's student of one seed: its saved model, unit and backup."""
    taught_by = None if row.soft is None else row.soft.id
    return key(row.config, data.train, seed, taught_by, model="student 600-600", **({"jitter": True} if row.jitter else {}))


def train_students(ctx, progress=resume.UNRECORDED, rows=None):
    """{row name: [record per seed]} of `rows` (all_rows). Each (row, seed) is a unit of `progress`: a rerun after
    a kill skips the finished ones. Seed by seed, so that a run stopped early leaves complete, paired seeds."""
    config, rows = ctx.config, all_rows(ctx) if rows is None else rows
    records = {name: [] for name in rows}
    progress.expect(len(rows) * config.seeds)
    for seed in range(config.seed, config.seed + config.seeds):
        for name, r in rows.items():
            unit = f"{name}-seed{seed}-{keys.digest(row_key(r, ctx.data, seed))}"
            train = lambda backup, name=name, r=r, seed=seed: train_row(ctx, name, r, seed, backup)
            records[name].append(progress.run(unit, train, f"{TITLES[name]} (seed {seed})"))
    return records


def train_row(ctx, name, r, seed, backup):
    """One row's student of one seed, its test record; the first seed's is saved as `name`, and reused from there
    when it was made as this row's would be (`python train.py --seeds 3` after `make run` trains seeds 1 and 2)."""
    c, artifact_key, title = r.config, row_key(r, ctx.data, seed), f"{TITLES[name]} (seed {seed})"
    if seed == c.seed and not c.retrain and (student := saved_model(ctx.out, name, artifact_key, title, ctx.log)):
        seconds = atomic.read_json(ctx.out / f"{name}.json", {}).get("record", {}).get("seconds")
        return {**test_record(student, ctx.data.test, seconds, seed, artifact_key), "teacher": r.teacher,
                "epochs": c.epochs}
    how = (f"on labels{', with the jitter' if r.jitter else ''}" if r.soft is None else
           f"distilled from {r.teacher} at T={c.temperature:g}, lambda={c.lambda_:g}"
           + (", on shifted views" if np.ndim(r.soft[0]) == 3 else ""))
    ctx.log(f"{title}: 784-600-600-10 {how}, {c.epochs} epochs")
    student = new_student(models.STUDENT_UNITS, seed)
    history = fit_student(student, ctx.data, c, r.soft, r.jitter, backup_dir=backup, name=title, seed=seed,
                          artifact_key=artifact_key)
    record = {**test_record(student, ctx.data.test, history.seconds, seed, artifact_key), "teacher": r.teacher,
              "epochs": c.epochs}
    if seed == c.seed:  # the first seed's models are the ones later stages load
        save_model(student, ctx.out, name, c, record, artifact_key)
    return record


def seed_statistics(records, paper_teacher_errors):
    """Mean and std of each row's test errors, their paired differences with the Student (and Student2.0's with
    its control), and the share of the Student-to-paper-teacher gap that Student2.0 closes."""
    errors = {name: np.array([r["errors"] for r in runs], dtype=float) for name, runs in records.items()}
    student = errors["student"]
    stats = {"n": len(student), **{name: mean_std(e) for name, e in errors.items()},
             "difference": {name: mean_std(e - student) for name, e in errors.items() if name != "student"},
             "gap_closed": float((student.mean() - errors["student_kd"].mean()) / (student.mean() - paper_teacher_errors))}
    if "student_jitter" in errors:
        stats["vs_control"] = mean_std(errors["student_kd"] - errors["student_jitter"])
    return stats


# The models table's names (the first seed's models, saved).
MODELS = {"student": "Student 600-600", "student_kd_teacher": "Student2.0 600-600 from the Teacher",
          "student_jitter": "Student 600-600 jittered (control)", "student_kd": "Student2.0 600-600 from the paper teacher"}


def table_rows(section):
    r = section["result"]
    return [("Paper teacher 1200-1200 (jitter, dropout, max-norm)", r["paper_teacher"])] + [
        (f"{MODELS[name]} (seed {runs[0]['seed']})", runs[0]) for name, runs in r.items() if name in MODELS]


def render(section, name=NAME):
    r, s, c = section["result"], section["result"]["statistics"], section["config"]
    lines = [f"## Student vs Student2.0 over {s['n']} seed(s)", "",
             (f"Student2.0 is taught by the paper teacher ({r['paper_teacher']['errors']} test errors) at T = "
             f"{c['temperature']:g}, lambda = {c['lambda_']:g}, {c['kd_epochs']} epochs, {c['views']} views; "
             f"Student2.0 from the Teacher at T = {c['teacher_temperature']:g}, lambda = {c['teacher_lambda']:g}. "
             "Every row of a seed starts from the same weights."), "",
             "| model | taught by | epochs | test errors, mean +- std | per seed | paired difference vs Student |",
             "|---|---|---:|---:|---|---:|"]
    for model in (m for m in TITLES if m in r):
        runs, d = r[model], s["difference"].get(model)
        lines.append(f"| {TITLES[model]} | {runs[0]['teacher'] or 'labels'} | {runs[0]['epochs']} | "
                     f"{s[model]['mean']:.1f} +- {s[model]['std']:.1f} | {', '.join(str(x['errors']) for x in runs)} | "
                     + ("" if d is None else f"{d['mean']:+.1f} +- {d['std']:.1f}") + " |")
    lines += ["", f"Student2.0 closes {100 * s['gap_closed']:.0f}% of the gap between the Student and its teacher"
              + (f"; against its jittered control: {s['vs_control']['mean']:+.1f} +- {s['vs_control']['std']:.1f}."
                 if "vs_control" in s else "."), "", *kept_lines(r.get("kept", [])),
              report.provenance(section, seeds=s["n"]), ""]
    return lines


def kept_lines(kept):
    """Where the seeds an earlier run made come from (kept_seeds): the footer below names this run's."""
    if not kept:
        return []
    return ["Kept from earlier runs, made with this section's settings, split, data and code: "
            + "; ".join(f"{kept_seeds.listed(g['seeds'])} by {kept_seeds.described(g)}" for g in kept) + ".", ""]
