"""Validation and test errors of the saved paper-teacher nets (paper_teacher.keras, paper_teacher_2.keras,
...) and of the mean logits of every subset of them. `--paper-teachers N` uses the first N; the other
subsets show how far the 5,000 validation images can tell these teachers apart. Trains nothing.

Each also averaged over shifted views of every image (test-time augmentation: the teacher was trained on
the paper's 2-pixel jitter, so its mean over the 9 views of shifts of at most 1 pixel, or over all 25,
may be a better teacher than its logits on the image alone). Choose on the validation column.

    python benchmarks/paper_teachers.py [--out-dir saved_models]
"""

import argparse
import itertools
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from distiller import augment, models
from distiller.cache import every_view_logits
from distiller.config import Config
from distiller.evaluate import count_errors, predictions
from distiller.experiments import prepare_data
from distiller.paper_teacher import member_name, saved_members


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default="saved_models", help="where the paper teachers are (default saved_models)")
    args = p.parse_args()
    paths = saved_members(Path(args.out_dir))
    if not paths:
        raise SystemExit(f"no {member_name(0)}.keras in {args.out_dir}: train one with `python train.py paper`")
    data = prepare_data(Config())
    nets = [models.load(path, path.stem) for path in paths]
    split_logits = {name: [every_view_logits(net, x) for net in nets] for name, (x, _) in (("val", data.val),
                                                                                      ("test", data.test))}
    labels = {"val": data.val[1], "test": data.test[1]}
    print("| nets (mean logits) | views | validation errors (of 5,000) | test errors (of 10,000) |\n"
          "|---|---|---:|---:|")
    for k in range(1, len(nets) + 1):
        for subset in itertools.combinations(range(len(nets)), k):
            for views, which in VIEWS.items():
                errors = [count_errors(predictions(np.mean([split_logits[s][i][:, which] for i in subset],
                                                           axis=(0, 2))), labels[s]) for s in ("val", "test")]
                first = f" (--paper-teachers {k})" if subset == tuple(range(k)) else ""
                print(f"| {' + '.join(str(i + 1) for i in subset)}{first} | {views} | {errors[0]} | {errors[1]} |")


# Views averaged, as indices into augment.VIEWS: the image alone, shifts of at most 1 pixel, every shift.
VIEWS = {"the image": [augment.CENTER],
         "9 views": [v for v, (dx, dy) in enumerate(augment.VIEWS) if max(abs(dx), abs(dy)) <= 1],
         "25 views": list(range(len(augment.VIEWS)))}


if __name__ == "__main__":
    main()
