"""Ctrl-C at random moments of many short fits in one process, with train.py's signal handlers, two ways:

  deferred:   as train.py runs now: in a fit, the signal is raised at the progress bar's next step
              (errors.deferred around model.fit in training.fit)
  immediate:  as before 2026-11-29: raised wherever the main thread happens to be

Counts, per way, the fits stopped by the KeyboardInterrupt, the interrupts raised inside a finalizer (Python
prints "Exception ignored in ..." and swallows them; TensorFlow's compiled functions free their C++ side
there), and the fits that then failed with another error. The same seed gives both ways the same moments.

    python benchmarks/ctrl_c_stress.py [--fits 40] [--seed 1]
"""

import argparse
import contextlib
import dataclasses
import os
import random
import signal
import sys
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from distiller import errors, models, training
from distiller.config import Config


def fits_interrupted(fits, seed, deferred):
    """Returns {"stopped": n, "in a finalizer": n, "other errors": [...]} for `fits` fits of a 784-600-600-10
    Student2.0 on 3,000 random images (3 epochs, XLA, 32 steps per call), each sent SIGINT at a random moment
    of its first 2.5 s."""
    counts = {"stopped": 0, "in a finalizer": 0, "other errors": []}

    def unraisable(hook_args):
        if isinstance(hook_args.exc_value, KeyboardInterrupt):
            counts["in a finalizer"] += 1

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3000, 784)).astype(np.float32), rng.integers(0, 10, 3000)
    teacher_logits = rng.standard_normal((3000, 10)).astype(np.float32)
    config = dataclasses.replace(Config(), epochs=3)
    moments = random.Random(seed)
    training.deferred = errors.deferred if deferred else contextlib.nullcontext
    sys.unraisablehook, before = unraisable, sys.unraisablehook
    try:
        for _ in range(fits):
            timer = threading.Timer(moments.uniform(0, 2.5), os.kill, [os.getpid(), signal.SIGINT])
            timer.start()
            try:
                training.distil(models.student(), (x, y), (x[:500], y[:500]), (teacher_logits, teacher_logits[:500]),
                                config, verbose=0)
                timer.join()
                errors.raise_if_interrupted()  # the fit ended before the signal came
            except KeyboardInterrupt:
                counts["stopped"] += 1
            except Exception as e:  # noqa: BLE001 -- counted: what an interrupt left broken
                counts["other errors"].append(f"{type(e).__name__}: {str(e)[:80]}")
            timer.cancel()
            timer.join()
            errors._received.clear()
    finally:
        sys.unraisablehook = before
        training.deferred = errors.deferred
    return counts


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fits", type=int, default=40, help="fits per way (default 40; about 4 s each here)")
    p.add_argument("--seed", type=int, default=1, help="seeds the moments of the signals (default 1)")
    args = p.parse_args()
    errors.raise_on_signals()
    rows = [(name, fits_interrupted(args.fits, args.seed, deferred)) for name, deferred in
            (("immediate (before)", False), ("deferred (now)", True))]
    print(f"\n{args.fits} fits per way, SIGINT at a random moment of the first 2.5 s (seed {args.seed})")
    print("| Ctrl-C raised | fits stopped | raised in a finalizer, swallowed | fits failed with another error |")
    print("|---|---:|---:|---:|")
    for name, c in rows:
        print(f"| {name} | {c['stopped']} | {c['in a finalizer']} | {len(c['other errors'])} |")
    for name, c in rows:
        for error in c["other errors"]:
            print(f"{name}: {error}")


if __name__ == "__main__":
    main()
