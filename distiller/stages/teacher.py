"""Teacher 784-1200-1200-10 on labels: trained once, saved with its key, and reused by later runs whose
settings, split, data and training code make the same key (--retrain: anew). It always runs first: every other
stage distils from it."""

import keras

from distiller import artifacts, models, resume
from distiller.training import train_on_labels, training_key

NAME = "teacher"


def teacher_key(config, data):
    return training_key(config, data.train, config.seed, model="teacher 1200-1200")


def run(ctx, progress):
    config, artifact_key = ctx.config, teacher_key(ctx.config, ctx.data)

    def train():
        ctx.log("Teacher: training 784-1200-1200-10 on labels")
        keras.utils.set_random_seed(config.seed)
        teacher = models.teacher()
        # Backed up in the stage's own folder (out/backups/teacher), which the loop removes once the stage is done.
        history = train_on_labels(teacher, ctx.data.train, ctx.data.val, config, name="Teacher",
                                  backup_dir=ctx.out / resume.BACKUPS / NAME, artifact_key=artifact_key)
        return teacher, artifacts.model_record(teacher, ctx.data.test, history.seconds, config.seed, artifact_key)

    teacher, saved = artifacts.get_or_train(ctx.out, NAME, artifact_key, "Teacher", train, config, ctx.log,
                                            config.retrain)
    return artifacts.model_record(teacher, ctx.data.test, saved.get("seconds"), config.seed, artifact_key)


def table_rows(section):
    return [("Teacher 1200-1200", section["result"])]
