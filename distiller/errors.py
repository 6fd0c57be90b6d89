"""The one exception a user is meant to read: train.py and tune.py print it as a single line."""


class DistillerError(Exception):
    """Bad input or a missing resource, with a message that says what to do."""
