"""Imports go down: the package's core never imports a stage, no stage imports another, and neither imports the
command lines or the loop above the stages (STYLE.md)."""

import ast
from pathlib import Path

from distiller import stages

PACKAGE = Path(__file__).resolve().parents[1] / "distiller"
# Above the stages: the command line and the loop that runs them, in order.
ABOVE = {"cli.py", "__main__.py", "experiments.py"}
# What neither the core nor a stage may import: the two command lines (train.py's, tune.py's) and that loop.
TOP = {"distiller.cli", "distiller.tune_cli", "distiller.experiments"}


def imported(path):
    """The distiller modules `path` imports (`from distiller.stages import x` counts as distiller.stages.x)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in names if name.startswith("distiller")}


def module(path):
    return ".".join(["distiller", *path.relative_to(PACKAGE).with_suffix("").parts])


def test_no_core_module_imports_a_stage():
    core = [p for p in PACKAGE.rglob("*.py") if "stages" not in p.relative_to(PACKAGE).parts and p.name not in ABOVE]
    offenders = {p.name: sorted(n for n in imported(p) if n.startswith("distiller.stages")) for p in core}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_neither_core_nor_stages_import_the_command_lines_or_the_loop_above_them():
    below = [p for p in PACKAGE.rglob("*.py") if module(p) not in TOP | {"distiller.__main__"}]
    offenders = {module(p): sorted(imported(p) & TOP) for p in below}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_stage_imports_another_stage():
    stage_modules = {f"distiller.stages.{name}" for name in stages.NAMES}
    offenders = {}
    for path in (PACKAGE / "stages").glob("*.py"):
        found = (imported(path) & stage_modules) - {f"distiller.stages.{path.stem}"}
        if found:
            offenders[path.name] = sorted(found)
    assert offenders == {}


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from distiller.stages import students\nimport distiller.stages.paper\n"
                   "from distiller import experiments\nfrom distiller.cli import parser\n")
    assert imported(bad) >= {"distiller.stages.students", "distiller.stages.paper", "distiller.experiments",
                             "distiller.cli"}
