"""The README's results are today's: every table row of its Results section is a row of the report rendered
from a committed results JSON in docs/ (the files `make run` and the commands the README names wrote)."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from distiller import report, stages

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ("results.json",)  # the committed report of the README's commands


def sections(*headings):
    """The README's text under these headings, up to the next one."""
    readme = (ROOT / "README.md").read_text()
    return "\n".join(readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0] for heading in headings)


def rendered_rows():
    rows = set()
    for name in REPORTS:
        markdown = report.render(json.loads((ROOT / "docs" / name).read_text()), stages.modules())
        rows |= {line for line in markdown.splitlines() if line.startswith("| ")}
    return rows


def test_every_results_row_of_the_readme_is_in_a_committed_report():
    lines = sections("Beside the paper", "Results").splitlines()
    data_rows = [row for row in lines if row.startswith("| ") and re.search(r"\| [-+]?\d", row)]  # not headings
    assert len(data_rows) >= 8
    missing = [row for row in data_rows if row not in rendered_rows()]
    assert not missing, f"README rows found in no docs/ report (rerun the README's commands): {missing}"


def test_the_committed_reports_name_their_command_and_commit():
    for name in REPORTS:
        for section, content in json.loads((ROOT / "docs" / name).read_text()).items():
            assert content["command"].startswith("python train.py"), (name, section)
            assert content["commit"] and "local changes" not in content["commit"], (name, section)
            assert "/tmp" not in content["command"] and "/work" not in content["command"], (name, section)


def test_the_headline_is_the_paper_stages_table_or_says_how_far_its_run_is():
    """Until `python train.py paper` has written its section, the README shows none of its numbers and counts its
    committed units as they are."""
    paper = json.loads((ROOT / "docs" / "results.json").read_text()).get("paper", {}).get("result", {})
    text = sections("Beside the paper")
    if "rows" in paper:
        # The paper table's rows name only the width; the protocol refit's name their row ("| 800-800 plain |").
        assert sum(line.startswith(("| 800-800 | ", "| 600-600 | ")) for line in text.splitlines()) == 6
        return
    # The committed record, not the working copy: a user's own run of the stage adds units to the latter.
    committed = subprocess.run(["git", "-C", str(ROOT), "show", "HEAD:saved_models/progress/paper.json"],
                               capture_output=True, text=True, check=False)
    if committed.returncode != 0:
        pytest.skip("not a git checkout")
    assert f"**not finished** ({len(json.loads(committed.stdout))} of 33 " in " ".join(text.split())
