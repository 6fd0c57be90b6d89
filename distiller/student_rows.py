"""How make run's students are trained, one row each, once per seed and from the same initial weights (paired):

  student             the Student: 784-600-600-10 on labels, exactly as the assignment says
  student_kd_teacher  Student2.0 distilled from the assignment's Teacher, which is no better than the Student
                      (trained well, without regularization): its soft targets have little to transfer
  student_jitter      the Student on labels with the paper's jitter, as long as Student2.0 (the control: what
                      the shifted views give without a teacher); only when Student2.0 sees shifted views
  student_kd          Student2.0: distilled from the paper teacher (paper_teacher.py) at the T, lambda, epochs
                      and views that tune.py chose on validation (config)

The first seed's models are saved under the row's name (the students stage trains them; class 3 and export load
student_kd)."""

import dataclasses

import numpy as np

from distiller import artifacts, models
from distiller.per_seed import fit_student, new_student
from distiller.training import training_key

TITLES = {"student": "Student", "student_kd_teacher": "Student2.0 from the Teacher",
          "student_jitter": "Student, jittered (control)", "student_kd": "Student2.0"}


@dataclasses.dataclass
class Row:
    """How one row's student is trained: its settings, the teacher's logits it is distilled from (None: labels),
    whether its images are jittered, and who taught it."""

    config: object
    targets: tuple | None = None  # cache.TeacherLogits: (targets for the training images, for the validation images)
    jitter: bool = False
    teacher: str | None = None


def kd_config(config):
    """Student2.0's settings: its own epochs (config.kd_epochs); T and lambda are config's."""
    return dataclasses.replace(config, epochs=config.kd_epochs)


def row(ctx, name):
    """The Row of `name` (TITLES) in this run: the teachers' logits are computed (or read from the cache) here, the
    paper teacher's after ctx.get_or_train_paper_teacher (which trains it when none matches)."""
    config = ctx.config
    if name == "student":
        return Row(config)
    if name == "student_kd_teacher":
        return Row(dataclasses.replace(config, temperature=config.teacher_temperature, lambda_=config.teacher_lambda),
                   ctx.teacher_logits(), teacher="the Teacher")
    if name == "student_jitter":
        return Row(kd_config(config), jitter=True)
    teacher = ctx.get_or_train_paper_teacher()
    targets = ctx.paper_targets(teacher)["views"] if config.views == "consistent" else ctx.paper_logits(teacher)
    return Row(kd_config(config), targets, teacher="the paper teacher")


def all_rows(ctx):
    """Every row of this run: the jittered control only when Student2.0 sees shifted views."""
    return {name: row(ctx, name) for name in TITLES if name != "student_jitter" or ctx.config.views == "consistent"}


def row_key(row, data, seed):
    """The key of one row's student of one seed: its saved model, unit and backup."""
    taught_by = None if row.targets is None else row.targets.id
    return training_key(row.config, data.train, seed, taught_by, model="student 600-600",
                        **({"jitter": True} if row.jitter else {}))


def train_row(ctx, name, r, seed, backup, checked=False):
    """One row's student of one seed and its test record; the first seed's is saved as `name`, and reused from there
    when it was made as this row's would be (`python train.py --seeds 3` after `make run` trains seeds 1 and 2).
    checked: the caller found the saved one not reusable and said why (class3): trained anew, without a second check."""
    c, artifact_key, title = r.config, row_key(r, ctx.data, seed), f"{TITLES[name]} (seed {seed})"

    def train():
        how = (f"on labels{', with the jitter' if r.jitter else ''}" if r.targets is None else
               f"distilled from {r.teacher} at T={c.temperature:g}, lambda={c.lambda_:g}"
               + (", on shifted views" if np.ndim(r.targets[0]) == 3 else ""))
        ctx.log(f"{title}: 784-600-600-10 {how}, {c.epochs} epochs")
        student = new_student(models.STUDENT_UNITS, seed)
        history = fit_student(student, ctx.data.train, ctx.data.val, c, r.targets, r.jitter, backup_dir=backup,
                              name=title, seed=seed, artifact_key=artifact_key)
        return student, record(student, history.seconds)

    def record(student, seconds):
        return {**artifacts.model_record(student, ctx.data.test, seconds, seed, artifact_key), "teacher": r.teacher,
                "epochs": c.epochs}

    if seed != c.seed:  # the first seed's models are the ones later stages load
        return train()[1]
    student, saved = artifacts.get_or_train(ctx.out, name, artifact_key, title, train, c, ctx.log, c.retrain or checked)
    return record(student, saved.get("seconds"))  # measured anew: a reused model's numbers are this machine's
