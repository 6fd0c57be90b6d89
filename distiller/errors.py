"""What train.py and tune.py turn into one line: bad input, a missing resource, an interruption."""

import signal
import sys


class DistillerError(Exception):
    """Bad input or a missing resource, with a message that says what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every `finally` (temporary files, the lock) runs."""


def raise_on_sigterm():
    def handler(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)


def exit_interrupted(e):
    """One line and the shell's status for a signal: 130 for Ctrl-C, 143 for SIGTERM."""
    resume = sys.modules.get("distiller.resume")  # knows which model and epoch was training, if any
    print(f"interrupted{resume.where() if resume else ''}; run the same command to resume", file=sys.stderr)
    sys.exit(143 if isinstance(e, Terminated) else 130)
