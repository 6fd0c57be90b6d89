"""Seconds to compute the view cache: the paper teacher's logits for the 25 shifted views of the 55,000
training images (cache.view_logits), the way it was first written and the way it is now, in one process:

  before:  each view by augment.view (a gather), the teacher called eagerly batch by batch
  now:     each view a slice of one padded copy (augment.every_view), the teacher traced once (tf.function)

Both give the same logits to the bit; the script checks it.

    python benchmarks/view_cache_speed.py [--repeats 5] [--teacher saved_models/paper_teacher.keras]
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from distiller import augment, cache, models
from distiller.config import Config
from distiller.data import prepare_data
from distiller.models import logits


def before(teacher, x, _):
    return np.stack([logits(teacher, augment.view(x, v).numpy()) for v in range(len(augment.VIEWS))], axis=1)


def now(teacher, x, folder):
    for old in os.scandir(folder):
        os.remove(old.path)  # a cache hit would time nothing
    return cache.view_logits(teacher, x, folder)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5, help="runs of each way; the fastest counts (default 5)")
    p.add_argument("--teacher", default="saved_models/paper_teacher.keras",
                   help="a saved teacher (default: the paper stage's, from `python train.py paper`)")
    args = p.parse_args()
    teacher = models.load(args.teacher, "teacher", remedy="train it with `python train.py paper`, or pass --teacher")
    x = prepare_data(Config()).train[0]
    seconds, results = {"before": [], "now": []}, {}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for name, way in (("before", before), ("now", now)):  # interleaved: both see the same machine load
                start = time.perf_counter()
                results[name] = way(teacher, x, folder)
                seconds[name].append(time.perf_counter() - start)
                print(f"{name}, run {repeat + 1} of {args.repeats}: {seconds[name][-1]:.1f} s", flush=True)
    same = np.array_equal(results["before"], results["now"])
    print(f"\n{len(x)} images x {len(augment.VIEWS)} views, {args.teacher}, fastest of {args.repeats} runs, "
          f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}; the same logits to the bit: {same}")
    print("| view cache | seconds | speed-up |\n|---|---:|---:|")
    fastest = {name: min(runs) for name, runs in seconds.items()}
    for name, best in fastest.items():
        print(f"| {name} | {best:.1f} | {fastest['before'] / best:.2f}x |")
    if not same:
        raise SystemExit("the two ways gave different logits")


if __name__ == "__main__":
    main()
