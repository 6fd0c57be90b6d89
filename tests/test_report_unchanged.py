"""The report of a --quick run with every stage, against a copy made before the stages were moved into
distiller/stages/ (the layout changed, the results and the Markdown must not).

The copy in tests/data/ was written by `python tests/test_report_unchanged.py` (it reruns the two
commands below). Counts are exact on one machine and TensorFlow build; on another, regenerate it
with the code of a commit whose report is trusted, and say so in the commit.
"""

import json
import re
import shutil
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
VOLATILE = {"date", "seconds"}  # differ run to run


def normalized_json(value, out):
    if isinstance(value, dict):
        return {k: normalized_json(v, out) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normalized_json(v, out) for v in value]
    return value.replace(str(out), "OUT") if isinstance(value, str) else value


def normalized_markdown(text, out):
    text = re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", text.replace(str(out), "OUT"))
    # The last cell of the models table is training seconds.
    return re.sub(r"^(\| (?:Teacher|Student|Student2\.0) \d+-\d+.*\| )\d+ \|$", r"\1S |", text, flags=re.MULTILINE)


def report_of(out):
    return (normalized_json(json.loads((out / "results.json").read_text()), out),
            normalized_markdown((out / "results.md").read_text(), out))


def test_quick_report_of_every_stage_is_unchanged(quick_opt_in_run):
    results, markdown = report_of(quick_opt_in_run)
    assert results == json.loads((DATA / "quick_results.json").read_text())
    assert markdown == (DATA / "quick_results.md").read_text()


if __name__ == "__main__":  # regenerate the copy: the fixtures' two commands, in a temporary folder
    import subprocess
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.conftest import OPT_IN, ROOT

    home = Path(tempfile.mkdtemp())
    out = home / "saved_models" / "quick"
    for extra in ([], ["--out-dir", str(out), *OPT_IN]):
        subprocess.run([sys.executable, str(ROOT / "train.py"), "--quick", *extra], cwd=home, check=True)
    results, markdown = report_of(out)
    (DATA / "quick_results.json").write_text(json.dumps(results, indent=2) + "\n")
    (DATA / "quick_results.md").write_text(markdown)
    shutil.rmtree(home)
