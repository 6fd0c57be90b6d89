"""Train Teacher, Student and Student2.0 on MNIST, run the class-3 experiment, print the results.

    python train.py                    # make run: teacher, students, class3
    python train.py class3             # one stage (reuses the saved models)
    python train.py --quick            # a smoke test on a small subset, under 2 minutes
    python train.py --seeds 3          # every student over 3 seeds, mean +- std
    python train.py paper              # the paper's MNIST table from the paper teacher, 3 seeds (hours; resumable)
    python train.py protocol           # the paper's protocol, one difference at a time (hours; resumable)
    python train.py --seeds 3 fractions widths digits78        # where distillation pays (long)
    python train.py --seeds 3 --distil-from paper widths       # from the paper teacher
    python train.py export             # the saved models as SavedModel and LiteRT files, with serving costs
    python train.py speed              # seconds per distillation epoch against two other Distillers (minutes)
    python tune.py --help              # the keras-tuner search of Student2.0's T, lambda, epochs and views

Stages: teacher (the assignment's Teacher), students (the Student; Student2.0 from the paper teacher, the
regularized teacher of Hinton et al. committed in saved_models/, and its jittered control; Student2.0 from the
Teacher), class3 (these three are the default), and the opt-in experiments: small_transfer (Student and
Student2.0 on 3% of the training split), paper (the paper's MNIST table: 800-800 students plain, distilled without
translations, jittered and distilled from consistent views; 600-600 plain and consistent; every choice on
validation over 3 seeds; hours), protocol (the 800-800 student distilled without translations, each arm one
difference from the paper's protocol: weighting, the dropout paper's SGD, initial weights, inputs, its teacher; 1
seed, validation only; then the arm of lowest validation NLL refit on all 60,000 images, 3 seeds, on test; hours),
fractions (small transfer sets), widths (small students across T), digits78 (a transfer set of 7s and 8s only);
and export (no training: the saved models as TensorFlow SavedModels and LiteRT
float32 / int8 files in OUT_DIR/export/, checked on the test set, with their size, latency and throughput, and
the class-3 bias shift made on a SavedModel); speed (seconds per distillation epoch: ours with the teacher's logits
computed once, against a keras.io-style Distiller and keras.distillation.Distiller, which run it every step).
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
from distiller.errors import one_line_exit
from distiller.stages import DEFAULT as DEFAULT_STAGES
from distiller.stages import NAMES as STAGES

HPARAMS = ("temperature", "lambda_", "kd_epochs", "views")  # Student2.0's settings a tune.py best.json may give


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
    p, d = parser(__doc__, prog), Config()
    p.add_argument("stages", nargs="*", metavar="stage",
                   help=f"any of {', '.join(STAGES)} (default: {', '.join(DEFAULT_STAGES)})")
    p.add_argument("--epochs", type=checked(int, 0), default=d.epochs,
                   help=f"epochs of the Teacher, the Student and the paper stage's plain rows (default {d.epochs})")
    p.add_argument("--batch-size", type=checked(int, 0), default=d.batch_size, help=f"default {d.batch_size}")
    p.add_argument("--learning-rate", type=checked(float, 0), default=d.learning_rate,
                   help=f"Adam's peak rate, cosine-decayed to 0 (default {d.learning_rate:g})")
    p.add_argument("--seed", type=int, default=d.seed,
                   help=f"seeds the split, weights and shuffling (default {d.seed})")
    p.add_argument("--seeds", type=checked(int, 0), default=d.seeds,
                   help="train every student with this many seeds and report mean +- std (default 1; the paper stage: "
                   "--paper-seeds)")
    p.add_argument("--temperature", "-T", type=checked(float, 0),
                   help=f"T of the soft targets (default: from --hparams, else {d.temperature:g})")
    p.add_argument("--lambda", dest="lambda_", type=checked(float, 0, strict=False),
                   help=f"weight of the T^2-scaled soft-target term (default: from --hparams, else {d.lambda_:g})")
    p.add_argument("--kd-epochs", dest="kd_epochs", type=checked(int, 0),
                   help=f"Student2.0's epochs (default: from --hparams, else {d.kd_epochs})")
    p.add_argument("--views", choices=("fixed", "consistent"),
                   help=f"what Student2.0 is shown: fixed (the images) or consistent (a random shifted view per "
                   f"step, taught by the teacher's logits for it) (default: from --hparams, else {d.views})")
    p.add_argument("--hparams", help=f"a tune.py best.json giving Student2.0's T, lambda, epochs and views (tune.py "
                   f"writes {BEST_HPARAMS}; default: config's, the search's best)")
    p.add_argument("--paper-teacher-epochs", type=checked(int, 0), default=d.paper_teacher_epochs,
                   help="epochs of the paper teacher, the regularized teacher of Hinton et al. "
                   f"(default {d.paper_teacher_epochs}: the committed one)")
    p.add_argument("--paper-teacher", metavar="FILE",
                   help="the committed paper teacher (saved_models/paper_teacher.keras of the repository, its .json "
                   "beside it), reused when OUT_DIR has none; for an installed package, which holds none (default "
                   "$DISTILLER_PAPER_TEACHER, else the checkout's)")
    p.add_argument("--distil-from", choices=("teacher", "paper"), default=d.distil_from,
                   help="the teacher of the fractions, widths and digits78 stages: teacher (make run's, default) or "
                   "paper (the paper teacher, committed; trained first if its key differs); their results go to "
                   "sections of their own")
    p.add_argument("--fractions", type=numbers(float), default=d.fractions,
                   help="fractions stage: comma-separated parts of the training split (default 0.01,0.03,0.1,1)")
    p.add_argument("--widths", type=numbers(int), default=d.widths,
                   help="widths stage: units per layer (default 30,300)")
    p.add_argument("--temperatures", type=numbers(float), default=d.temperatures,
                   help="widths stage: comma-separated T values (default 1,2,2.5,3,4,6,8,12,20,30)")
    p.add_argument("--paper-seeds", type=checked(int, 0), default=d.paper_seeds,
                   help=f"paper stage: seeds of every row (default {d.paper_seeds})")
    p.add_argument("--paper-epochs", type=numbers(int), default=d.paper_epochs,
                   help="paper stage: the consistent rows' candidate epochs, chosen on validation (default "
                   f"{','.join(map(str, d.paper_epochs))})")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=d.jit_compile,
                   help="XLA-compile the training steps (default on: faster here for real runs; --no-jit-compile for "
                   "tiny runs, whose time is mostly compiling; --quick: off). Part of every saved model's key: a run "
                   "with the other setting trains its models anew, the paper teacher's hour and a half included")
    p.add_argument("--val-size", type=checked(int, 0), default=d.val_size,
                   help=f"held-out training images (default {d.val_size})")
    p.add_argument("--bias-tolerance", type=checked(int, 0, strict=False), default=d.bias_tolerance,
                   help="class 3: take the largest bias adding at most this many validation errors on other "
                   "digits (default: the bias with the fewest validation errors)")
    p.add_argument("--data-dir", default=d.data_dir,
                   help="MNIST cache (default $DISTILLER_DATA_DIR or ~/.cache/distiller/mnist)")
    p.add_argument("--out-dir", default=d.out_dir, help=f"models, results.json and the report (default {d.out_dir})")
    p.add_argument("--retrain", action="store_true",
                   help="train the Teacher, the first seed's students and Student2.0(-3) anew even if saved ones match")
    p.add_argument("--retrain-paper-teacher", action="store_true",
                   help="train a new paper teacher even if one is saved or committed (about an hour and a half)")
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
    values, from_file = resolve_hparams(args.pop("hparams"), {name: args[name] for name in HPARAMS})
    args.update(values)
    given |= from_file  # as if typed: --quick does not shorten a searched Student2.0
    config = Config(**args)
    return (quick(config, given) if is_quick else config), stages


def parser(doc, prog=None):
    """A parser whose --help is `doc`, its examples written as this program was started (`prog`, else sys.argv[0]):
    python train.py / tune.py, python -m distiller [tune], or the console scripts distiller-train / distiller-tune."""
    prog = prog or Path(sys.argv[0]).name
    if prog.endswith(".py"):
        train, tune = "python train.py", "python tune.py"
    elif prog.startswith("python -m "):
        train = prog.removesuffix(" tune")
        tune = f"{train} tune"
    else:
        train, tune = "distiller-train", "distiller-tune"
    return argparse.ArgumentParser(prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
                                   description=doc.replace("python train.py", train).replace("python tune.py", tune))


def resolve_hparams(path, typed):
    """Student2.0's settings and the names taken from the best.json at `path`: the flags typed (`typed`: name ->
    value, None when not typed) win over the file, which wins over Config's defaults (the search's best, fixed
    there: a best.json is read only when named, so a run never depends on a file outside the repository)."""
    found = read_hparams(path) if path is not None and any(value is None for value in typed.values()) else {}
    found = {name: value for name, value in found.items() if typed.get(name) is None}
    if found:
        print(f"Student2.0 settings from {path}: " + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                                                for k, v in found.items()))
    d = Config()
    values = {name: value if value is not None else found.get(name, getattr(d, name)) for name, value in typed.items()}
    return values, set(found)


def main(argv=None, prog=None):
    """The command line of train.py, `python -m distiller` and distiller-train: parse it, run the stages, print the
    report; bad input, a missing resource or an interruption end in one line and a nonzero exit status."""
    with one_line_exit():
        config, stages = parse_args(argv, prog)
        from distiller import report
        from distiller.experiments import run

        report.commit()  # the code this run loaded, recorded with every result and model it writes
        started = time.perf_counter()
        print(run(config, [s for s in STAGES if s in stages]))
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux
        print(f"Models, results.json and results.md are in {config.out_dir}/ "
              f"({time.perf_counter() - started:.0f} s, peak memory {peak_gb:.1f} GiB)")

