"""Public Keras only: no `_`-prefixed attribute of a Keras object anywhere in distiller/ or tests/, since the next
Keras release may rename any of them (BackupAndRestore's load and save hooks, the model's initial epoch, the layers'
seed generators and ProgbarLogger's bar update were all used here once).

The check reads the code's syntax tree: an attribute `x._name`, a `getattr`/`setattr`/`hasattr`/`delattr` (also
monkeypatch's) of a "_name" string, a method `_name` (an override), and any use of `keras.src` (Keras's private
tree). Which object `x` is cannot be known without running the code, so every `_name` counts as Keras's unless it is
in ALLOWED: the few private names of Python's own modules and of this project's that the code uses."""

import ast

from tests.conftest import ROOT

FOLDERS = ("distiller", "tests")
# Private names that are not Keras's, each with whose it is.
ALLOWED = {
    "_getframe": "sys._getframe: Python's",
    "_exit": "os._exit: Python's",
    "_received": "distiller.errors' own record of the signals received, which tests/test_kill.py resets",
}
ATTRIBUTE_CALLS = ("getattr", "setattr", "hasattr", "delattr")


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))  # __class__ is Python's


def called_name(call):
    """`getattr` for getattr(...), `setattr` for monkeypatch.setattr(...)."""
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)


def private_uses(source):
    """(line, what) of each use of a private name that ALLOWED does not name, in the Python `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Call) and called_name(node) in ATTRIBUTE_CALLS and len(node.args) > 1 \
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            name = node.args[1].value
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = node.name
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(m == "keras.src" or m.startswith("keras.src.") for m in modules):
                found.append((node.lineno, "keras.src"))
            continue
        else:
            continue
        if name == "src" and ast.unparse(node).startswith("keras.src"):
            found.append((node.lineno, "keras.src"))
        elif is_private(name) and name not in ALLOWED:
            found.append((node.lineno, name))
    return found


def test_no_private_keras_name_is_used():
    uses = [f"{path.relative_to(ROOT)}:{line}: {name}"
            for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))
            for line, name in private_uses(path.read_text())]
    assert not uses, "private names (use Keras's public API, or add a name that is not Keras's to ALLOWED):\n" + \
        "\n".join(uses)


def test_the_check_finds_each_kind_of_use_and_passes_python_s_own():
    source = '''
import sys, os
from keras.src.callbacks import Callback
class Backup(keras.callbacks.BackupAndRestore):
    def _save_model(self):
        self.model._start_epoch = self._epoch_now
        seeds = getattr(layer, "_seed_generators", [])
        monkeypatch.setattr(keras.callbacks.ProgbarLogger, "_update_progbar", print)
        keras.src.utils.io_utils.print_msg("x")
    def __init__(self):
        print(type(self).__name__, sys._getframe(0), getattr(self, "__dict__"))
        os._exit(0)
'''
    assert sorted(name for _, name in private_uses(source)) == sorted([
        "keras.src", "_save_model", "_start_epoch", "_epoch_now", "_seed_generators", "_update_progbar",
        "keras.src"])
