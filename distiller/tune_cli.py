"""Search Student2.0's T, lambda, epochs and views with keras-tuner, scored on validation accuracy only.

    python tune.py                                   # 12 random trials against the paper teacher
    python tune.py --tuner bayesian --trials 30
    python tune.py --workers 2                       # a chief and 2 workers on this machine
    python tune.py --teacher saved_models/teacher.keras --project teacher --views fixed --epochs 20
                                                     # against the assignment's Teacher
    python train.py --hparams tuning/search/best.json   # train Student2.0 with the best trial

The search space (tuning.py): T in 1-50, lambda in 0.3-10, 20 or 40 epochs, fixed or consistent views. The
default teacher is the paper teacher that make run's Student2.0 learns from (saved_models/paper_teacher.keras,
committed). An interrupted search resumes where it stopped; --overwrite starts afresh. Outputs in
PROJECT_DIR/PROJECT: report.md (every trial, best first), best.json, accuracy_vs_temperature.png, heatmap.png,
and tensorboard/ for TensorBoard's HParams dashboard (`tensorboard --logdir tuning/search/tensorboard`).
"""

import argparse
import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the output

from distiller.cli import parser
from distiller.config import Config, checked
from distiller.errors import DistillerError, one_line_exit

TUNERS = ("random", "bayesian", "hyperband", "grid")  # tuning.TUNERS's names: --help imports no TensorFlow


def parse_args(argv, prog=None):
    """The flags of `argv`; `prog`: how the program was started (see cli.parse_args). A flag named after a Config
    field sets that field (config_from)."""
    p, d = parser(__doc__, prog), Config()
    p.add_argument("--tuner", choices=TUNERS, default="random", help="keras-tuner's search algorithm (default random)")
    p.add_argument("--trials", type=checked(int, 0), default=12,
                   help="trials to run (default 12; Hyperband budgets epochs instead)")
    p.add_argument("--epochs", type=checked(int, 0),
                   help="epochs of every trial and of the plain Student, the bar (default: trials search 20 and 40, "
                   f"the bar trains {d.epochs}, as make run's Student)")
    # Not Config.views (Student2.0's): the views searched.
    p.add_argument("--views", dest="searched_views", choices=("fixed", "consistent"),
                   help="the trials' views: fixed (the images) or consistent (a random shifted view per step, taught "
                   "by the teacher's logits for it); default: both searched")
    p.add_argument("--seed", type=int, default=d.seed, help="seeds the tuner, the split and the weights")
    p.add_argument("--batch-size", type=checked(int, 0), default=d.batch_size)
    p.add_argument("--project-dir", default="tuning", help="where searches live (default tuning)")
    p.add_argument("--project", default="search", help="this search's folder name (default search)")
    p.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    p.add_argument("--workers", type=checked(int, 0, strict=False), default=0,
                   help="run a chief and this many workers on this machine (default 0: one process)")
    p.add_argument("--train-size", type=checked(int, 0), default=d.train_size,
                   help="use only this many training images")
    p.add_argument("--val-size", type=checked(int, 0), default=d.val_size)
    p.add_argument("--data-dir", default=d.data_dir)
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=d.jit_compile,
                   help="XLA-compile the training steps (default on: faster here for real runs; --no-jit-compile for "
                   "tiny runs, whose time is mostly compiling). Part of the saved teacher's key: with the other "
                   "setting the default paper teacher is not found")
    p.add_argument("--out-dir", default=d.out_dir, help="where the saved teacher is (default saved_models)")
    p.add_argument("--teacher", help="the saved teacher to distil from (default: the paper teacher, OUT_DIR's or "
                   "the committed one; e.g. saved_models/teacher.keras, the assignment's Teacher)")
    p.add_argument("--role", choices=("chief", "worker"),
                   help="this process's part in a distributed search (set by --workers; by hand on several machines: "
                   "KERASTUNER_TUNER_ID=chief, or tuner0, tuner1, ... on the workers, and the chief's "
                   "KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT on every machine, as keras-tuner's distributed "
                   "tuning reads them)")
    return p.parse_args(argv)


def config_from(args):
    """The search's Config: Config's defaults, and every flag named after one of its fields that has a value
    (--epochs unset: the bar trains Config's epochs)."""
    flags = vars(args)
    return Config(**{f.name: flags[f.name] for f in dataclasses.fields(Config) if flags.get(f.name) is not None})


def main(argv=None, prog=None):
    """The command line of tune.py, `python -m distiller tune` and distiller-tune: parse it, search, print the
    report; bad input, a missing resource or an interruption end in one line and a nonzero exit status."""
    started = time.perf_counter()
    with one_line_exit():
        argv = list(argv if argv is not None else sys.argv[1:])
        args = parse_args(argv, prog)
        text = tune(args, argv, started)
        if text:
            print(text)
            print(f"Report, best.json and plots are in {Path(args.project_dir) / args.project}/")


def tune(args, argv, started):
    """Run the search `args` asks for (`argv`: its flags, for the chief and the workers --workers starts first);
    return its report's Markdown (None for a chief or a worker)."""
    from distiller import tuning

    if args.workers and args.role is None:
        launch_chief_and_workers(args, argv)
    return tuning.run(config_from(args), args.tuner, args.trials, args.project_dir, args.project,
                      overwrite=args.overwrite and not args.workers, role=args.role, started=started,
                      teacher=args.teacher, epochs=[args.epochs] if args.epochs else tuning.EPOCHS,
                      views=[args.searched_views] if args.searched_views else tuning.VIEWS)


def launch_chief_and_workers(args, argv):
    """The distributed search, to its end: a chief and args.workers workers, each this program in a process of its
    own, importing this copy of the package (tune.py found it beside itself, perhaps off the path)."""
    from distiller import distributed

    if args.overwrite:  # done once here: a worker never wipes the shared project
        shutil.rmtree(Path(args.project_dir) / args.project, ignore_errors=True)
    command = [sys.executable, "-m", "distiller", "tune", *argv_without_workers(a for a in argv if a != "--overwrite")]
    home = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join([home, *filter(None, [os.environ.get("PYTHONPATH")])])
    codes = distributed.launch(command, args.workers, env={"PYTHONPATH": path})
    if any(codes):
        raise DistillerError(f"a tuner process failed: exit codes {codes} (chief first)")


def argv_without_workers(argv):
    """`argv` without --workers and its number: the flags of the chief and of every worker."""
    argv, out = iter(argv), []
    for a in argv:
        if a == "--workers":
            next(argv, None)  # its number
        elif not a.startswith("--workers="):
            out.append(a)
    return out
