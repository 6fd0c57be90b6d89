"""Teacher 784-1200-1200-10 on labels: trained once, saved, reused by every later run (--retrain: anew).
It always runs first: every other stage distils from it."""

import keras

from distiller import atomic, models, resume
from distiller.stages.shared import save_model, test_record
from distiller.training import train_on_labels

NAME = "teacher"


def run(ctx, progress):
    config, path = ctx.config, ctx.out / "teacher.keras"
    if path.exists() and not config.retrain:
        ctx.log(f"Teacher: reusing {path} (pass --retrain to train a new one)")
        teacher = models.load(path, "teacher", remedy="pass --retrain to train a new one")
        saved = atomic.read_json(path.with_suffix(".json"), {}).get("record", {})  # only its seconds and seed
        return test_record(teacher, ctx.data.test, saved.get("seconds"), saved.get("seed"))
    ctx.log("Teacher: training 784-1200-1200-10 on labels")
    keras.utils.set_random_seed(config.seed)
    teacher = models.teacher()
    # Backed up in the stage's own folder (out/backups/teacher), which the loop removes once the stage is done.
    history = train_on_labels(teacher, ctx.data.train, ctx.data.val, config, backup_dir=ctx.out / resume.BACKUPS / NAME,
                              name="Teacher")
    record = test_record(teacher, ctx.data.test, history.seconds, config.seed)
    save_model(teacher, ctx.out, NAME, config, record)
    return record


def table_rows(section):
    return [("Teacher 1200-1200", section["result"])]
