"""Train Teacher, Student and Student2.0 on MNIST, run the class-3 experiment, print the results.

    python train.py                    # the default stages: teacher, students, class3, small_transfer
    python train.py class3             # one stage (reuses the saved teacher and Student2.0)
    python train.py --quick            # a smoke test on a small subset, under 2 minutes
    python train.py --seeds 3          # Student and Student2.0 over 3 seeds, mean +- std
    python train.py --seeds 3 paper fractions widths digits78   # where distillation pays (long)
    python train.py --seeds 3 --distil-from paper widths       # from the paper stage's teacher
    python train.py export             # the saved models as SavedModel and LiteRT files, with serving costs

Stages: teacher, students, class3, small_transfer (Student and Student2.0 on 3% of the training split:
where distillation pays; these four are the default), and the opt-in experiments: paper (a regularized
teacher, the paper's protocol), fractions (small transfer sets), widths (small students across T),
digits78 (a transfer set of 7s and 8s only), consistent (students shown a random shifted view at every
step, taught by the paper teacher's cached logits for that view; long); and export (no training: the saved models as TensorFlow
SavedModels and LiteRT float32 / int8 files in OUT_DIR/export/, checked on the test set, with their size,
latency and throughput, and the class-3 bias shift made on a SavedModel).
"""

import argparse
import math
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the output

from distiller.config import BEST_HPARAMS, Config, checked, quick, read_hparams
from distiller.errors import DistillerError, exit_interrupted, raise_on_signals
from distiller.stages import DEFAULT as DEFAULT_STAGES
from distiller.stages import NAMES as STAGES


def numbers(kind):
    def parse(text):
        try:
            values = tuple(kind(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"every value must be finite, got {text!r}")
        if any(v <= 0 for v in values):
            raise argparse.ArgumentTypeError(f"every value must be > 0, got {text!r}")
        return values

    return parse


def parse_args(argv, prog=None):
    """(Config, stage names) from the command line `argv`. `prog`: how the program was started, for --help, when
    sys.argv[0] does not say (`python -m distiller`); the help's examples then name it instead of train.py."""
    prog = prog or Path(sys.argv[0]).name
    command = f"python {prog}" if prog.endswith(".py") else prog  # a console script (distiller-train) is run bare
    d = Config()
    p = argparse.ArgumentParser(prog=prog, description=__doc__.replace("python train.py", command),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stages", nargs="*", metavar="stage",
                   help=f"any of {', '.join(STAGES)} (default: {', '.join(DEFAULT_STAGES)})")
    p.add_argument("--epochs", type=checked(int, 0), default=d.epochs, help=f"epochs for every model (default {d.epochs})")
    p.add_argument("--batch-size", type=checked(int, 0), default=d.batch_size, help=f"default {d.batch_size}")
    p.add_argument("--learning-rate", type=checked(float, 0), default=d.learning_rate,
                   help=f"Adam's peak rate, cosine-decayed to 0 (default {d.learning_rate:g})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seeds the split, weights and shuffling (default {d.seed})")
    p.add_argument("--seeds", type=checked(int, 0), default=d.seeds,
                   help="train Student and Student2.0 with this many seeds and report mean +- std (default 1)")
    p.add_argument("--temperature", "-T", type=checked(float, 0),
                   help=f"T of the soft targets (default: from --hparams, else {d.temperature:g})")
    p.add_argument("--lambda", dest="lambda_", type=checked(float, 0, strict=False),
                   help=f"weight of the T^2-scaled soft-target term (default: from --hparams, else {d.lambda_:g})")
    p.add_argument("--hparams", help=f"a tune.py best.json giving T and lambda (default {BEST_HPARAMS} if it exists)")
    p.add_argument("--paper-teacher-epochs", type=checked(int, 0), default=d.paper_teacher_epochs,
                   help=f"epochs of the regularized teacher of the paper stage (default {d.paper_teacher_epochs})")
    p.add_argument("--paper-teachers", type=checked(int, 0), default=d.paper_teachers,
                   help="the paper teacher as the mean logits of this many regularized nets, trained from seeds "
                   "seed, seed+1, ... on the same split; saved ones are reused (default 1)")
    p.add_argument("--distil-from", choices=("teacher", "paper"), default=d.distil_from,
                   help="the teacher of the fractions, widths and digits78 stages: teacher (make run's, default) or "
                   "paper (the paper stage's regularized teacher, trained first if not saved); their results go to "
                   "sections of their own")
    p.add_argument("--fractions", type=numbers(float), default=d.fractions,
                   help="fractions stage: comma-separated parts of the training split (default 0.01,0.03,0.1,1)")
    p.add_argument("--widths", type=numbers(int), default=d.widths, help="widths stage: units per layer (default 30,300)")
    p.add_argument("--temperatures", type=numbers(float), default=d.temperatures,
                   help="widths stage: comma-separated T values (default 1,2,2.5,3,4,6,8,12,20,30)")
    p.add_argument("--consistent-epochs", type=numbers(int), default=d.consistent_epochs,
                   help="consistent stage: the epochs tried, the best on validation used for every row "
                   "(default 60,150,300)")
    p.add_argument("--consistent-widths", type=numbers(int), default=d.consistent_widths,
                   help="consistent stage: units per layer of the students (default 800,600)")
    p.add_argument("--consistent-teacher-views", type=int, choices=(1, 9, 25), default=d.consistent_teacher_views,
                   help="consistent stage: teach each view by the paper teacher's mean logits over this many views "
                   "around it: 1 (the view alone, default), 9 (shifts of up to 1 more pixel) or 25")
    p.add_argument("--val-size", type=checked(int, 0), default=d.val_size, help=f"held-out training images (default {d.val_size})")
    p.add_argument("--bias-tolerance", type=checked(int, 0, strict=False), default=d.bias_tolerance,
                   help="class 3: take the largest bias adding at most this many validation errors on other "
                   "digits (default: the bias with the fewest validation errors)")
    p.add_argument("--data-dir", default=d.data_dir, help="MNIST cache (default $DISTILLER_DATA_DIR or ~/.cache/distiller/mnist)")
    p.add_argument("--out-dir", default=d.out_dir, help=f"models, results.json and the report (default {d.out_dir})")
    p.add_argument("--retrain", action="store_true", help="train a new teacher even if one is saved")
    p.add_argument("--quick", action="store_true",
                   help="a smoke test: 3,000 training images, 1,000 held out, 2 epochs, written to OUT_DIR/quick/ "
                   "(flags you give win over these)")
    args = vars(p.parse_args(argv))
    unset = object()  # parsed again with no defaults: which flags were typed
    p.set_defaults(**dict.fromkeys(args, unset))
    given = {name for name, value in vars(p.parse_args(argv)).items() if value is not unset}
    stages, is_quick = args.pop("stages") or list(DEFAULT_STAGES), args.pop("quick")
    if unknown := set(stages) - set(STAGES):
        p.error(f"unknown stage {', '.join(sorted(unknown))}; choose from {', '.join(STAGES)}")
    args["temperature"], args["lambda_"] = resolve_hparams(args.pop("hparams"), args["temperature"], args["lambda_"])
    config = Config(**args)
    return (quick(config, given) if is_quick else config), stages


def resolve_hparams(path, temperature, lambda_):
    """Flags win over a best.json, which wins over Config's defaults."""
    if path is None and BEST_HPARAMS.is_file():
        path = BEST_HPARAMS
    if path is not None and (temperature is None or lambda_ is None):
        found = read_hparams(path)
        print(f"Student2.0 hyperparameters from {path}: T={found[0]:g}, lambda={found[1]:g}")
        temperature = found[0] if temperature is None else temperature
        lambda_ = found[1] if lambda_ is None else lambda_
    d = Config()
    return (d.temperature if temperature is None else temperature), (d.lambda_ if lambda_ is None else lambda_)


def main(argv=None, prog=None):
    """The command line of train.py, `python -m distiller` and distiller-train: parse it, run the stages, print the
    report; bad input, a missing resource or an interruption end in one line and a nonzero exit status."""
    raise_on_signals()
    try:
        config, stages = parse_args(argv, prog)
        from distiller.experiments import run

        started = time.perf_counter()
        print(run(config, [s for s in STAGES if s in stages]))
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux
        print(f"Models, results.json and results.md are in {config.out_dir}/ "
              f"({time.perf_counter() - started:.0f} s, peak memory {peak_gb:.1f} GiB)")
    except DistillerError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: backups and finished units are kept for the rerun
        exit_interrupted(e)

