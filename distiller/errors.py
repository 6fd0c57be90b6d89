"""What train.py and tune.py turn into one line: bad input, a missing resource, an interruption."""

import contextlib
import signal
import sys


class DistillerError(Exception):
    """Bad input or a missing resource, with a message that says what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every `finally` (temporary files, the lock) runs."""


_received = []  # the signals that arrived, kept in case Python swallowed the exception raised for one
_deferring = []  # one entry per `deferred()` block the program is in
now = {"training": None}  # what is training right now, for the interrupt message (set by resume.Backup)


def where():
    """' during epoch k of n of the Teacher', or '' between trainings."""
    return f" during {now['training']}" if now["training"] else ""


def raise_on_signals():
    """Ctrl-C (SIGINT) and SIGTERM raise KeyboardInterrupt / Terminated, and are remembered: a handler's exception
    raised while a finalizer (`__del__`) runs is swallowed by Python ("Exception ignored in ..."), so
    `raise_if_interrupted` raises it again at the next safe point (a training step, a unit, a stage).
    Inside `deferred()` the first signal is only remembered; a second one raises at once."""

    def handler(signum, frame):
        _received.append(signum)
        if not _deferring or len(_received) > 1:
            raise_if_interrupted()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def raise_if_interrupted():
    if _received:
        raise Terminated() if _received[-1] == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def deferred():
    """A block (model.fit) where a signal is raised only at the safe points that call `raise_if_interrupted`
    (progress.ProgressBar: after every call of steps), not wherever the handler happens to run. Raised there,
    inside TensorFlow's own code (the finalizers of its compiled functions, for one), it left the process
    broken: tests/test_kill.py's Ctrl-C once ended in "free(): invalid next size" and an abort (exit -6), and
    benchmarks/ctrl_c_stress.py counts the interrupts raised in finalizers and the fits that fail after."""
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
    raise_if_interrupted()  # a signal after the last safe point


@contextlib.contextmanager
def one_line_exit():
    """The command lines' frame: Ctrl-C and SIGTERM raise (raise_on_signals); bad input or a missing resource ends in
    one line and status 1, a signal in one line and the shell's status for it: 130 for Ctrl-C, 143 for SIGTERM."""
    raise_on_signals()
    try:
        yield
    except DistillerError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt as e:  # backups, finished units and keras-tuner's trials are kept for the rerun
        print(f"interrupted{where()}; run the same command to resume", file=sys.stderr)
        sys.exit(143 if isinstance(e, Terminated) else 130)
