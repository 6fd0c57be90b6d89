"""Should `make run`'s Student2.0 learn from the dropout paper's teacher instead of the committed paper teacher?
(issue 40, item 7; the rule: the comment of config.protocol_make_run_seeds, written before the protocol's choice).

Student2.0 is trained exactly as `make run` trains it (student_rows: the Student's shape and initial weights, T,
lambda, kd_epochs and views of config) from each teacher, per seed, and scored by its last epoch's validation errors.
The new teacher replaces the committed one only if its mean is lower; a tie keeps the committed one. The settings
were tuned with the committed teacher, so the comparison leans its way (the rule says so too).
"""

from distiller import models
from distiller.evaluate import count_errors, mean_std, predictions
from distiller.models import logits
from distiller.per_seed import fit_student, new_student, run_unit, seeds_of, work
from distiller.student_rows import Row, kd_config, row_key

# The first is kept unless the second is better.
TEACHERS = {"committed": "the committed paper teacher", "dropout_paper": "the dropout paper's teacher"}


def compare(nets, targets_of):
    """{teacher: {"val_errors": [per seed], "mean": ...}, "verdict": "keep" or "replace"}. targets_of(name) -> what
    the teacher `name` teaches make run's Student2.0 (cache.TeacherLogits: on the shifted views, or the images)."""
    config = nets.ctx.config
    seeds = seeds_of(config, config.protocol_make_run_seeds)
    result = {}
    for name in TEACHERS:
        row = Row(kd_config(config), targets_of(name), teacher=name)
        errors = [trained_once(nets, row, seed) for seed in seeds]
        result[name] = {"val_errors": errors, "mean": mean_std(errors)["mean"]}
    better = result["dropout_paper"]["mean"] < result["committed"]["mean"]
    result["verdict"] = "replace" if better else "keep"
    return result


def trained_once(nets, row, seed):
    """One Student2.0 of `row` and `seed` (a unit of the stage's progress): its last epoch's validation errors."""
    ctx, c = nets.ctx, row.config
    artifact_key = row_key(row, ctx.data, seed)
    label = f"make run's Student2.0 from {TEACHERS[row.teacher]}"

    def train(backup):
        student = new_student(models.STUDENT_UNITS, seed)
        fit_student(student, ctx.data.train, ctx.data.val, c, row.targets, verbose=0, backup_dir=backup,
                    name=f"{label} (seed {seed})", seed=seed, artifact_key=artifact_key)
        return count_errors(predictions(logits(student, ctx.data.val[0])), ctx.data.val[1])

    return run_unit(nets.progress, f"make-run-{row.teacher}", seed, artifact_key, train, label,
                    work=work(models.STUDENT_UNITS[0], c.epochs))


def verdict_line(result):
    """The one sentence the log and the report say."""
    kept, new = result["committed"], result["dropout_paper"]
    what = ("the dropout paper's teacher teaches it better: make run should switch teachers and regenerate its numbers"
            if result["verdict"] == "replace" else "make run keeps the committed paper teacher")
    return (f"make run's Student2.0, validation errors per seed: from the committed paper teacher {kept['val_errors']} "
            f"(mean {kept['mean']:.1f}), from the dropout paper's teacher {new['val_errors']} (mean {new['mean']:.1f}): "
            f"{what}.")
