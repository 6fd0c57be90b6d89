"""Imports go down: the package's core never imports a stage, and no stage imports another (STYLE.md)."""

import ast
from pathlib import Path

from distiller import stages

PACKAGE = Path(__file__).resolve().parents[1] / "distiller"
# Above the stages: the command line and the loop that runs them, in order.
ABOVE = {"cli.py", "__main__.py", "experiments.py"}


def imported(path):
    """The distiller modules `path` imports (`from distiller.stages import x` counts as distiller.stages.x)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in names if name.startswith("distiller")}


def test_no_core_module_imports_a_stage():
    core = [p for p in PACKAGE.rglob("*.py") if "stages" not in p.relative_to(PACKAGE).parts and p.name not in ABOVE]
    offenders = {p.name: sorted(n for n in imported(p) if n.startswith("distiller.stages")) for p in core}
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
    bad.write_text("from distiller.stages import students\nimport distiller.stages.paper\n")
    assert imported(bad) >= {"distiller.stages.students", "distiller.stages.paper"}
