"""The protocol's refit (issue 40, item 2): the recipe the screen chose, trained on all 60,000 training images and
measured on test (config.protocol_refit_seeds seeds; the rules were written in config before the choice): per seed,
the teacher, the 800-800 student on labels, the 800-800 student distilled without translations, and class 3 like
for like. A seed's rows run one after another, so that their paired differences come from one processor; each
record names its machine.

Class 3 cannot choose b on images its student trained on: Student2.0(-3) distils on the 55,000 training images
without their 3s, and b is chosen on its logits for the 5,000 validation images, which it never saw (its teacher did:
b reads the student only).
"""

import dataclasses
import shutil

import numpy as np

from distiller import artifacts, bias_shift, cache, keys, paper_teacher, protocol_nets, resume
from distiller.models import logits
from distiller.per_seed import run_unit, seeds_of, work
from distiller.protocol_nets import NAME
from distiller.report import machine
from distiller.training import training_key

ROWS = ("teacher", "plain", "distilled")


def all_images(data):
    """The split's training and validation images (and labels) together: MNIST's 60,000 training images."""
    return tuple(np.concatenate(pair) for pair in zip(data.train, data.val))


def get_or_train_refit(nets, changes, length):
    """The refit of the arm of `changes` (config.PROTOCOL_ARMS) at `length` epochs: {"seeds": [each seed's rows]}.
    Hours: every teacher and student is saved or a finished unit, and reused under its key."""
    config, data = nets.ctx.config, nets.ctx.data
    return {"images": len(data.train[0]) + len(data.val[0]), "class3_images": len(data.train[0]),
            "held_out": len(data.val[0]),
            "seeds": [one_seed(nets, changes, length, seed) for seed in seeds_of(config, config.protocol_refit_seeds)]}


def row_configs(nets, changes, length):
    """(the plain row's Config, the distilled row's, init, inputs) of the arm of `changes` at `length` epochs: the
    comment of config.protocol_refit_seeds says why the plain row's length."""
    trained, init, inputs = nets.recipe(changes)
    distilled = dataclasses.replace(trained, epochs=length)
    plain_epochs = nets.ctx.config.epochs if trained.optimizer == "adam" else length
    return dataclasses.replace(distilled, epochs=plain_epochs), distilled, init, inputs


def one_seed(nets, changes, length, seed):
    """One seed's rows: the teacher's, plain's and distilled's test records, and class 3's."""
    ctx = nets.ctx
    images = all_images(ctx.data)
    teacher, teacher_record = get_or_train_refit_teacher(nets, changes.get("teacher", "committed"), images, seed)
    z = cache.teacher_logits(teacher, images[0], ctx.out / "teacher_logits")
    targets = cache.TeacherLogits(z, None, id=keys.digest(cache.logits_key(teacher, images[0])))
    plain, distilled, init, inputs = row_configs(nets, changes, length)
    return {"seed": seed, "teacher": teacher_record,
            "plain": refit_row(nets, plain, init, inputs, images, None, seed, "refit plain"),
            "distilled": refit_row(nets, distilled, init, inputs, images, targets, seed, "refit distilled"),
            "class3": class3(nets, distilled, init, inputs, targets, seed)}


def get_or_train_refit_teacher(nets, name, images, seed):
    """(this seed's teacher of recipe `name` trained on all 60,000 images, its record): saved in OUT_DIR/protocol/
    under its key, or trained now (an hour or more: backed up every epoch, a rerun resumes)."""
    ctx = nets.ctx
    trained, shape, model = nets.teacher_recipe(name)
    artifact_key = training_key(trained, images, seed, model=model, row="protocol refit", **shape)
    backup = ctx.out / resume.BACKUPS / NAME / f"refit-teacher-{keys.digest(artifact_key)}"

    def train():
        ctx.log(f"Protocol refit teacher (seed {seed}): {model}, {trained.epochs} epochs on all {len(images[0]):,} "
                f"images ({paper_teacher.cost_of(trained.epochs, len(images[0]))} without AVX-512; a kill resumes "
                "from the last epoch)")
        teacher, history, _ = nets.fit_teacher(trained, shape, images, None, seed, artifact_key, backup,
                                               name=f"refit teacher (seed {seed})", model_name=f"refit_teacher_{name}")
        return teacher, record(teacher, ctx.data.test, history.seconds, seed)

    # The recipe in the file's name: a run that chose the other teacher does not replace one of hours.
    teacher, saved = artifacts.get_or_train(ctx.out / NAME, f"refit_teacher_{name}_seed{seed}", artifact_key,
                                            f"Protocol refit teacher (seed {seed})", train, trained, ctx.log)
    shutil.rmtree(backup, ignore_errors=True)  # also one left by a kill between the save and its removal
    return teacher, saved


def refit_row(nets, trained, init, inputs, images, targets, seed, label):
    """One 800-800 student trained with `trained` on all 60,000 images (distilled from `targets`, or on labels when
    None), a unit of the stage: its test record."""
    artifact_key = training_key(trained, images, seed, None if targets is None else targets.id,
                                model=protocol_nets.student_model(),
                                row="protocol refit", init=init, inputs=inputs)

    def train(backup):
        history = nets.fit_student(trained, init, inputs, images, None, targets, seed, backup, label, artifact_key)
        return record(history.net, nets.ctx.data.test, history.seconds, seed)

    return run_unit(nets.progress, label.replace(" ", "-"), seed, artifact_key, train, f"Protocol {label}",
                    work=work(protocol_nets.UNITS[0], trained.epochs))


def class3(nets, trained, init, inputs, targets, seed):
    """Student2.0(-3) distilled with `trained` from the refit teacher's logits (`targets`, on the 60,000 images) on
    the 55,000 training images without their 3s; b chosen on the validation images under both rules
    (bias_shift.RULES): its test record, and each rule's."""
    data = nets.ctx.data
    n = len(data.train[0])
    transfer, keep = bias_shift.transfer_set_without(*data.train)
    transfer_targets = cache.TeacherLogits(targets[0][:n][keep], targets[0][n:], id=targets.id)
    artifact_key = training_key(trained, transfer, seed, targets.id, model=f"{protocol_nets.student_model()} without 3s",
                                row="protocol refit", init=init, inputs=inputs)

    def train(backup):
        history = nets.fit_student(trained, init, inputs, transfer, data.val, transfer_targets, seed, backup,
                                   "refit Student2.0(-3)", artifact_key)
        curve = bias_shift.bias_curve(logits(history.net, data.val[0]), data.val[1], bias_shift.shifts(nets.ctx.config))
        return {**record(history.net, data.test, history.seconds, seed), "curve": curve,
                "rules": bias_shift.under_both_rules(history.net, curve, data.test)}

    return run_unit(nets.progress, "refit-minus3", seed, artifact_key, train, "Protocol refit Student2.0(-3)",
                    work=work(protocol_nets.UNITS[0], trained.epochs))  # as protocol.costs counts it


def record(model, test, seconds, seed):
    return {**artifacts.model_record(model, test, seconds, seed), "machine": machine()}
