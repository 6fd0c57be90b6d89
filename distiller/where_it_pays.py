"""Where distillation pays: the paper's strong teacher, small transfer sets, small students, 7s and 8s.

Every run goes through training.train_on_labels / training.distil; plain and distilled students of
one seed start from the same weights, so their difference is paired.
"""

import dataclasses
import shutil

import keras
import numpy as np

from distiller import atomic, cache, class3, models, resume
from distiller.evaluate import count_errors, predictions, summary
from distiller.training import distil, fingerprint, logits, train_on_labels

FROM_PAPER_TEACHER = "_from_paper_teacher"  # results.json section suffix of stages run with --distil-from paper
PAPER = {
    "paper_protocol": {"teacher": 67, "student": 146, "student_kd": 74, "best_public_mlp": [100, 171, 111]},
    "digits78": {"error_percent": 47.3, "shifted_error_percent": 13.2, "bias": -7.6},
}


def repeat_to(arrays, n):
    """Tile a small transfer set to at least n rows: it gets as many steps per epoch as the full one."""
    times = -(-n // len(arrays[0]))
    return tuple(np.concatenate([a] * times) for a in arrays)


def test_errors(model, data):
    return summary(logits(model, data.test[0]), data.test[1])["errors"]


def errors_per_seed(config, data, units, seeds, keep=None, teacher_logits=None, progress=resume.UNRECORDED):
    """Test errors of one student per seed, on the rows `keep` of the training split: trained on labels,
    or distilled when teacher_logits is given. Same seeds, so plain and distilled share initial weights.
    Each seed is a unit of `progress` (resume.Units): a rerun after a kill skips the finished ones."""
    keep = np.ones(len(data.train[0]), bool) if keep is None else keep
    columns = (data.train[0][keep], data.train[1][keep])
    if teacher_logits is not None:
        columns += (teacher_logits[0][keep],)
    x, y, *soft = repeat_to(columns, len(data.train[0]))
    kind = "plain" if teacher_logits is None else f"T{config.temperature:g}-lambda{config.lambda_:g}"
    digest = fingerprint(config, (x, y), *soft)

    def train(seed, backup):
        keras.utils.set_random_seed(seed)
        student = models.mlp(units, f"student{units[0]}")
        options = {"verbose": 0, "backup_dir": backup, "name": f"Student {units[0]}-{units[1]} {kind} (seed {seed})"}
        if teacher_logits is None:
            train_on_labels(student, (x, y), data.val, config, **options)
        else:
            distil(student, (x, y), data.val, (soft[0], teacher_logits[1]), config, **options)
        return test_errors(student, data)

    return [progress.run(f"{units[0]}-{units[1]}-{kind}-seed{seed}-{digest}", lambda backup, seed=seed: train(seed, backup))
            for seed in seeds]


def paired(config, data, teacher_logits, units, seeds, keep=None, progress=resume.UNRECORDED):
    return {"plain": errors_per_seed(config, data, units, seeds, keep, progress=progress),
            "distilled": errors_per_seed(config, data, units, seeds, keep, teacher_logits, progress)}


def get_paper_teacher(config, data, out, log=print):
    path, backup = out / "paper_teacher.keras", out / resume.BACKUPS / "paper_teacher"
    if path.exists() and not config.retrain:
        shutil.rmtree(backup, ignore_errors=True)  # left by a kill between the save and its removal
        log(f"Paper teacher: reusing {path}")
        return models.load(path, "paper teacher", remedy="pass --retrain to train a new one")
    log(f"Paper teacher: 1200-1200 with jitter, dropout and max-norm, {config.paper_teacher_epochs} epochs")
    keras.utils.set_random_seed(config.seed)
    teacher = models.paper_teacher()
    # XLA cannot compile the jitter layer; more epochs, since dropout slows learning.
    settings = dataclasses.replace(config, epochs=config.paper_teacher_epochs, jit_compile=False)
    history = train_on_labels(teacher, data.train, data.val, settings, backup_dir=backup, name="paper teacher")
    record = {"config": dataclasses.asdict(settings), "seconds": round(history.seconds),
              "val_errors": count_errors(predictions(logits(teacher, data.val[0])), data.val[1])}
    atomic.save_model(teacher, path)
    atomic.write_json(out / "paper_teacher.json", record)
    shutil.rmtree(backup, ignore_errors=True)
    return teacher


def seeds_of(config):
    return list(range(config.seed, config.seed + config.seeds))


def distilled_per_setting(config, data, units, teacher_logits, settings, progress=resume.UNRECORDED, log=print):
    """{name: test errors per seed} for students distilled at each named (T, lambda) of `settings`."""
    runs = {}
    for name, (temperature, lambda_) in settings.items():
        log(f"Student {units[0]}-{units[1]} at T={temperature:g}, lambda={lambda_:g}, seeds {seeds_of(config)}")
        kd = dataclasses.replace(config, temperature=temperature, lambda_=lambda_)
        runs[name] = errors_per_seed(kd, data, units, seeds_of(config), teacher_logits=teacher_logits,
                                     progress=progress)
    return runs


def paper_protocol(config, data, out, progress=resume.UNRECORDED, log=print):
    """A regularized teacher; 800-800 and 600-600 students, plain and distilled at the paper's T = 20
    (lambda = 1) and at the run's T and lambda (the tuner's best: --hparams, or tuning/search/best.json)."""
    teacher = get_paper_teacher(config, data, out, log)
    soft = cache.teacher_logits_for(teacher, data, out / "teacher_logits")
    settings = {"paper": (20.0, 1.0), "tuned": (config.temperature, config.lambda_)}
    if settings["tuned"] == settings["paper"]:
        del settings["tuned"]
    result = {"teacher": test_errors(teacher, data),
              "settings": {name: {"temperature": t, "lambda_": lam} for name, (t, lam) in settings.items()}}
    for width in (800, 600):
        log(f"Paper protocol: students {width}-{width} on labels, seeds {seeds_of(config)}")
        plain = errors_per_seed(config, data, (width, width), seeds_of(config), progress=progress)
        result[str(width)] = {"plain": plain, **distilled_per_setting(config, data, (width, width), soft, settings,
                                                                      progress, log)}
    return result


def transfer_fractions(config, data, teacher_logits, progress=resume.UNRECORDED, log=print):
    """Students 600-600 from the first 1%, 3%, 10%, 100% of the (already shuffled) training split."""
    result = {}
    for fraction in config.fractions:
        n = max(10, round(fraction * len(data.train[0])))
        keep = np.arange(len(data.train[0])) < n
        log(f"Transfer set of {n} images ({fraction:.0%}), seeds {seeds_of(config)}")
        result[str(fraction)] = {"images": n, **paired(config, data, teacher_logits, models.STUDENT_UNITS,
                                                       seeds_of(config), keep, progress)}
    return result


def small_students(config, data, teacher_logits, progress=resume.UNRECORDED, log=print):
    """Students of config.widths units per layer: plain, and distilled at each of config.temperatures."""
    result = {}
    for width in config.widths:
        log(f"Student {width}-{width} on labels, seeds {seeds_of(config)}")
        settings = {str(t): (t, config.lambda_) for t in config.temperatures}
        result[str(width)] = {"plain": errors_per_seed(config, data, (width, width), seeds_of(config),
                                                       progress=progress),
                              "distilled": distilled_per_setting(config, data, (width, width), teacher_logits,
                                                                 settings, progress, log)}
    return result


def digits_7_and_8(config, data, teacher_logits, out, progress=resume.UNRECORDED, log=print, name="student_78_shifted"):
    """An 800-800 student distilled on the 7s and 8s alone, then the biases of 7 and 8 lowered by b."""
    keep = np.isin(data.train[1], (7, 8))
    transfer = repeat_to((data.train[0][keep], data.train[1][keep], teacher_logits[0][keep]), len(data.train[0]))
    log(f"7-and-8 transfer set: {keep.sum()} images")
    keras.utils.set_random_seed(config.seed)
    student = models.mlp((800, 800), "student800")
    backup = progress.backup_dir("student_78")
    distil(student, transfer[:2], data.val, (transfer[2], teacher_logits[1]), config, verbose=0, backup_dir=backup,
           name="Student 800-800 of 7s and 8s")
    val_logits = logits(student, data.val[0])
    shifts = np.arange(0.0, 15.01, 0.2)
    down = -np.isin(np.arange(models.NUM_CLASSES), (7, 8)).astype(np.float32)  # lower both biases by b
    curve = [count_errors(predictions(val_logits + b * down), data.val[1]) for b in shifts]
    b = float(shifts[int(np.argmin(curve))])  # chosen on the validation split
    shifted = class3.shift_bias(class3.shift_bias(student, -b, 7), -b, 8)
    atomic.save_model(shifted, out / f"{name}.keras")
    size = len(data.test[1])
    return {"error_percent": 100 * test_errors(student, data) / size, "bias": -b,
            "shifted_error_percent": 100 * test_errors(shifted, data) / size,
            "curve": {"bias": [-float(s) for s in shifts], "val_errors": curve}}
