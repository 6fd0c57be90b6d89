"""A transfer set of 7s and 8s only: an 800-800 student distilled on them alone, then the biases of 7 and 8
lowered by b, chosen on the validation split."""

import keras
import numpy as np

from distiller import atomic, models, resume
from distiller.bias_shift import shift_bias
from distiller.evaluate import count_errors, predictions
from distiller.models import logits
from distiller.per_seed import repeat_to, test_errors
from distiller.report import provenance, teacher_of
from distiller.training import distil, training_key

NAME = "digits78"
DISTIL_FROM = True  # its teacher is --distil-from's, and its section (and saved model) are named after it
PAPER = {"error_percent": 47.3, "shifted_error_percent": 13.2, "bias": -7.6}  # Hinton et al. 2015


def run(ctx, progress):
    return digits_7_and_8(ctx.config, ctx.data, ctx.transfer_logits(), ctx.out, progress=progress, log=ctx.log,
                          name=f"student_78_shifted{ctx.section_suffix()}")


def digits_7_and_8(config, data, teacher_logits, out, progress=resume.UNRECORDED, log=print, name="student_78_shifted"):
    """An 800-800 student distilled on the 7s and 8s alone, then the biases of 7 and 8 lowered by b."""
    keep = np.isin(data.train[1], (7, 8))
    transfer = repeat_to((data.train[0][keep], data.train[1][keep], teacher_logits[0][keep]), len(data.train[0]))
    log(f"7-and-8 transfer set: {keep.sum()} images")
    keras.utils.set_random_seed(config.seed)
    student = models.mlp((800, 800), "student800")
    backup = progress.backup_dir("student_78")
    distil(student, transfer[:2], data.val, (transfer[2], teacher_logits[1]), config, verbose=0, backup_dir=backup,
           name="Student 800-800 of 7s and 8s", artifact_key=training_key(config, transfer[:2], config.seed, teacher_logits.id,
                                                                  model="student 800-800 of 7s and 8s"))
    val_logits = logits(student, data.val[0])
    shifts = np.arange(0.0, 15.01, 0.2)
    down = -np.isin(np.arange(models.NUM_CLASSES), (7, 8)).astype(np.float32)  # lower both biases by b
    curve = [count_errors(predictions(val_logits + b * down), data.val[1]) for b in shifts]
    b = float(shifts[int(np.argmin(curve))])  # chosen on the validation split
    shifted = shift_bias(shift_bias(student, -b, 7), -b, 8)
    atomic.save_model(shifted, out / f"{name}.keras")
    size = len(data.test[1])
    return {"error_percent": 100 * test_errors(student, data) / size, "bias": -b,
            "shifted_error_percent": 100 * test_errors(shifted, data) / size,
            "curve": {"bias": [-float(s) for s in shifts], "val_errors": curve}}


def render(section, name=NAME):
    r, paper = section["result"], PAPER
    return [f"## A transfer set of 7s and 8s only (Student 800-800{teacher_of(section)})", "",
            "| | test error | bias of 7 and 8 | paper |", "|---|---:|---:|---:|",
            f"| distilled | {r['error_percent']:.1f}% | 0 | {paper['error_percent']}% |",
            (f"| biases lowered (b chosen on validation) | {r['shifted_error_percent']:.1f}% | {r['bias']:+g} | "
            f"{paper['shifted_error_percent']}% at {paper['bias']:+g} |"), "", provenance(section), ""]
