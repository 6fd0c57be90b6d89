"""The stages of train.py, one module each, in the order they run.

A stage module has NAME, `run(ctx, progress)` -> its section of results.json (ctx: experiments.Context,
progress: resume.Units), and may have `table_rows(section)` (rows of the models table), `render(section,
name)` (its Markdown, provenance included), `plot(result, out, name)`, and DISTIL_FROM = True when
--distil-from picks its teacher (its section is then named after that teacher), NEEDS_TEACHER = False when it
does not use the assignment's Teacher (then the teacher stage is not run first), NEEDS_PAPER_TEACHER = True when it
distils from the paper teacher (a run that will train one says so before any training), KEEP_UNITS = True when its
finished units outlive it, for a later run to reuse (resume.Units(keep=True)), and SHOWS = "val_errors" when its
progress lines must show validation errors, not test errors (its choices are not made yet), and SEEDS, the config
field (or fields) that counts its seeds, when a run with fewer must not take its section back (kept_seeds.place; the
students stage keeps earlier seeds its own way). The paper's figures for a stage sit in its module. A new stage is a
new module and one line below.
"""

import importlib

NAMES = ("teacher", "students", "class3", "small_transfer", "paper", "protocol", "fractions", "widths", "digits78", "export", "speed")
DEFAULT = NAMES[:3]  # make run; the rest are opt-in: where distillation pays, serving, and speed


def modules():
    return [importlib.import_module(f"{__name__}.{name}") for name in NAMES]
