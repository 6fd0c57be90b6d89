"""Validation and test errors of the saved paper-teacher nets (paper_teacher.keras, paper_teacher_2.keras,
...) and of the mean logits of every subset of them. `--paper-teachers N` uses the first N; the other
subsets show how far the 5,000 validation images can tell these teachers apart. Trains nothing.

Each also averaged over shifted views of every image (test-time augmentation: the teacher was trained on
the paper's 2-pixel jitter, so its mean over the 9 views of shifts of at most 1 pixel, or over all 25,
may be a better teacher than its logits on the image alone). Choose on the validation columns: beside the
error count, the NLL (the mean -log p of the true label), which every image moves, not only the few dozen
a good teacher gets wrong, so it can rank teachers that the error count ties.

    python benchmarks/paper_teachers.py [--out-dir saved_models] [--baseline-dir DIR]
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
from distiller.evaluate import count_errors, nll, nll_per_image, predictions
from distiller.experiments import prepare_data
from distiller.paper_teacher import member_name, saved_members


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default="saved_models", help="where the paper teachers are (default saved_models)")
    p.add_argument("--baseline-dir", help="also compare, image by image, each teacher's validation NLL with the same "
                   "nets' in this folder (e.g. the same seeds trained for fewer epochs)")
    args = p.parse_args()
    data = prepare_data(Config())
    labels = {"val": data.val[1], "test": data.test[1]}
    split_logits = view_logits_of(args.out_dir, data)
    count = len(split_logits["val"])
    print("| nets (mean logits) | views | validation errors (of 5,000) | validation NLL | test errors (of 10,000) "
          "| test NLL |\n|---|---|---:|---:|---:|---:|")
    for k in range(1, count + 1):
        for subset in itertools.combinations(range(count), k):
            for views in VIEWS:
                scores = []
                for s in ("val", "test"):
                    logits = teacher(split_logits[s], subset, views)
                    scores += [count_errors(predictions(logits), labels[s]), f"{nll(logits, labels[s]):.4f}"]
                first = f" (--paper-teachers {k})" if subset == tuple(range(k)) else ""
                print(f"| {name(subset)}{first} | {views} | {' | '.join(map(str, scores))} |")
    val = split_logits["val"]
    print("\nValidation NLL, image by image: averaged over views against the image alone (mean +- standard error)")
    print("| nets | views | difference |\n|---|---|---:|")
    for subset in subsets(count):
        for views in list(VIEWS)[1:]:
            print(f"| {name(subset)} | {views} | {paired(teacher(val, subset, views), teacher(val, subset), labels['val'])} |")
    if args.baseline_dir:
        baseline = view_logits_of(args.baseline_dir, data, splits=("val",))["val"]
        print(f"\nValidation NLL, image by image: {args.out_dir} against {args.baseline_dir} (mean +- standard error)")
        print("| nets | views | difference |\n|---|---|---:|")
        for subset in subsets(min(count, len(baseline))):
            for views in VIEWS:
                print(f"| {name(subset)} | {views} | "
                      f"{paired(teacher(val, subset, views), teacher(baseline, subset, views), labels['val'])} |")


def view_logits_of(out_dir, data, splits=("val", "test")):
    """{"val": [...], "test": [...]} (the `splits` asked for): each saved paper-teacher net's logits for every view
    of every image."""
    paths = saved_members(Path(out_dir))
    if not paths:
        raise SystemExit(f"no {member_name(0)}.keras in {out_dir}: train one with `python train.py paper`")
    nets = [models.load(path, path.stem) for path in paths]
    return {split: [every_view_logits(net, getattr(data, split)[0]) for net in nets] for split in splits}


def teacher(view_logits, subset, views="the image"):
    """The mean logits of the nets in `subset`, each averaged over `views`."""
    return np.mean([view_logits[i][:, VIEWS[views]] for i in subset], axis=(0, 2))


def subsets(count):
    return [subset for k in range(1, count + 1) for subset in itertools.combinations(range(count), k)]


def name(subset):
    return " + ".join(str(i + 1) for i in subset)


def paired(a, b, labels):
    """Teacher a's NLL minus teacher b's, image by image: their mean and its standard error, in nats. On the
    same images, so the images' own difficulty cancels: a finer comparison than two NLLs side by side."""
    d = nll_per_image(a, labels) - nll_per_image(b, labels)
    return f"{d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(len(d)):.4f}"


# Views averaged, as indices into augment.VIEWS: the image alone, shifts of at most 1 pixel, every shift.
VIEWS = {"the image": [augment.CENTER],
         "9 views": [v for v, (dx, dy) in enumerate(augment.VIEWS) if max(abs(dx), abs(dy)) <= 1],
         "25 views": list(range(len(augment.VIEWS)))}


if __name__ == "__main__":
    main()
