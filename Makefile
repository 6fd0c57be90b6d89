# `make run` and `make test` set up .venv on first use; later calls install nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test test-slow lint benchmark clean

run: $(INSTALLED)
	$(PY) train.py

# Two pytest-xdist workers, one test file each at a time (a file's fixtures are built once): most of a test's
# time is single-threaded Python and XLA compiling, so two share the 2 cores well.
# The 10 slowest tests are listed after the run: CI must stay well inside 15 minutes.
test: $(INSTALLED)
	$(PY) -m pytest -q --durations=10 -n 2 --dist loadfile

test-slow: $(INSTALLED)
	$(PY) -m pytest -q -m slow

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

# Reinstalled only when pyproject.toml changes.
$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info

benchmark: $(INSTALLED)
	$(PY) train.py speed
