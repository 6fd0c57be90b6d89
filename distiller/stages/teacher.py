"""Teacher 784-1200-1200-10 on labels: trained once, saved with its key, and reused by later runs whose
settings, split, data and training code make the same key (--retrain: anew). It always runs first: every other
stage distils from it."""

import keras

from distiller import atomic, models, resume
from distiller.stages.shared import save_model, saved_model, test_record
from distiller.training import key, train_on_labels

NAME = "teacher"


def teacher_key(config, data):
    return key(config, data.train, config.seed, model="teacher 1200-1200")


def run(ctx, progress):
    config, artifact_key = ctx.config, teacher_key(ctx.config, ctx.data)
    teacher = None if config.retrain else saved_model(ctx.out, NAME, artifact_key, "Teacher", ctx.log)
    if teacher is not None:
        saved = atomic.read_json(ctx.out / f"{NAME}.json", {}).get("record", {})  # its seconds; the rest is measured
        return test_record(teacher, ctx.data.test, saved.get("seconds"), config.seed, artifact_key)
    ctx.log("Teacher: training 784-1200-1200-10 on labels")
    keras.utils.set_random_seed(config.seed)
    teacher = models.teacher()
    # Backed up in the stage's own folder (out/backups/teacher), which the loop removes once the stage is done.
    history = train_on_labels(teacher, ctx.data.train, ctx.data.val, config, backup_dir=ctx.out / resume.BACKUPS / NAME,
                              name="Teacher", artifact_key=artifact_key)
    record = test_record(teacher, ctx.data.test, history.seconds, config.seed, artifact_key)
    save_model(teacher, ctx.out, NAME, config, record, artifact_key)
    return record


def table_rows(section):
    return [("Teacher 1200-1200", section["result"])]
