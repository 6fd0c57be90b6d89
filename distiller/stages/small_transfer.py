"""Where distillation pays, in `make run`: Student and Student2.0 taught from 3% of the training split.

With the full split the Student is already as good as make run's teacher, so Student2.0 cannot gain. With
1,650 labelled images the plain Student overfits, while the teacher's soft targets on those same images
carry much of what the missing ones would have taught (the paper's section 4 made this point with 3% of
its speech data). The transfer set is tiled to the full split's size, so both students take the usual
number of steps; each pair starts from the same initial weights. The fractions stage is the same
experiment at several sizes; this is its 3% point, short enough for the default run.
"""

import numpy as np

from distiller import models
from distiller.evaluate import mean_std
from distiller.per_seed import first_part, paired, seeds_of
from distiller.report import provenance, spread

NAME = "small_transfer"
FRACTION = 0.03
SEEDS = "seeds"  # the config field that counts its section's seeds: fewer never take it back (kept_seeds.place)


def run(ctx, progress):
    config, data = ctx.config, ctx.data
    images, keep = first_part(data, FRACTION)
    progress.expect(2 * config.seeds)
    ctx.log(f"Small transfer set: Student and Student2.0 on {images} images ({FRACTION:.0%} of the training split)")
    return {"images": images, **paired(config, data, ctx.teacher_logits(), models.STUDENT_UNITS, seeds_of(config),
                                       keep, progress)}


def render(section, name=NAME):
    r, c = section["result"], section["config"]
    difference = [int(d) for d in np.subtract(r["distilled"], r["plain"])]
    d = mean_std(difference)
    per_seed = lambda values, fmt="d": ", ".join(f"{v:{fmt}}" for v in values)
    return [f"## Where distillation pays: Student 600-600 from {r['images']:,} training images ({FRACTION:.0%} of the split)",
            "",
            "| model, on the same small transfer set | test errors, mean +- std | per seed |", "|---|---:|---|",
            f"| Student (labels) | {spread(r['plain'])} | {per_seed(r['plain'])} |",
            f"| Student2.0 (T = {c['temperature']:g}, lambda = {c['lambda_']:g}) | "
            + f"{spread(r['distilled'])} | {per_seed(r['distilled'])} |",
            f"| paired difference (Student2.0 - Student) | {d['mean']:+.1f} +- {d['std']:.1f} | "
            + f"{per_seed(difference, '+d')} |",
            "", provenance(section), ""]
