# The commands the README names. Each sets up the virtual environment first, so on a
# fresh machine `make lessons` and `make test` are all there is to type.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The site's own environment (Sphinx, myst-nb, selenium), kept apart from the lessons' one.
DOCS_VENV ?= $(VENV)-docs
DOCS_STAMP := $(DOCS_VENV)/.installed
# uv installs the same pins as pip, about ten times faster (`python -m benchmarks --only setup`).
UV_VERSION := 0.13.9
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
# Python's own bytecode cache, even where the shell turns it off (PYTHONDONTWRITEBYTECODE=1, as
# some containers and CI images do): uv installs packages without .pyc files, so without the
# cache every process (each kernel, each `aws` command, each test worker) compiled boto3, pandas
# and the AWS CLI from source again: `aws --version` took 1.9 s of CPU instead of 0.7.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: site site-check setup lessons test test-unit test-notebooks test-aws lint format lab lab-check up down status clean clean-all benchmark student

setup: $(STAMP)

# install VENV, REQUIREMENTS: with uv when it can be had, else with pip; the same pinned file
# either way. The environment is made without pip (ensurepip took 8 of a fresh setup's 19 s), and
# uv comes from PyPI through the pip of $(PYTHON) into it; where that pip may not install (an
# externally managed Python, PEP 668), the environment gets its own pip first, as before.
define install
	@if { $(PYTHON) -m pip install --quiet --disable-pip-version-check --prefix $(1) uv==$(UV_VERSION) 2>/dev/null \
	      || { $(1)/bin/python -m ensurepip --default-pip >/dev/null 2>&1 \
	           && $(1)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) 2>/dev/null; }; } \
	    && $(1)/bin/uv pip install --quiet --python $(1)/bin/python -r $(2); then \
	  echo "installed $(2) with uv $(UV_VERSION)"; \
	else \
	  echo "uv unavailable: installing $(2) with pip (slower)"; \
	  $(1)/bin/python -m ensurepip --default-pip >/dev/null 2>&1; \
	  $(1)/bin/python -m pip install --quiet --upgrade pip && $(1)/bin/python -m pip install --quiet -r $(2); \
	fi
endef

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv --without-pip $(VENV)
	$(call install,$(VENV),requirements.txt)
	touch $(STAMP)

$(DOCS_STAMP): requirements-docs.txt
	$(PYTHON) -m venv --without-pip $(DOCS_VENV)
	$(call install,$(DOCS_VENV),requirements-docs.txt)
	touch $(DOCS_STAMP)

## The series as a website in build/site/html, from the committed outputs (nothing is executed).
site: $(DOCS_STAMP)
	$(DOCS_VENV)/bin/python -m tools.site build

## Serve the site on 127.0.0.1 and check every page in headless Chromium (.ci/install-browser).
site-check: site
	$(DOCS_VENV)/bin/python -m tools.site check

## Run every lesson headless on the backend from .env (local by default).
lessons: setup
	$(PY) -m helpers run

## Lint, then one pytest run: unit and fault tests, the workshop room, and the notebooks compared
## with their committed outputs (nbval, all lessons in order on one worker, beside the tests).
test: setup lint
	$(PY) -m pytest -n auto $(NBVAL) notebooks tests

# One worker process per core (pytest-xdist); each is a participant with a prefix of its own,
# and the session's workshop room still runs once, in the background (conftest.py).
test-unit: setup
	$(PY) -m pytest -n auto tests

test-notebooks: setup
	$(PY) -m pytest $(NBVAL) notebooks

## Student copies of the lessons in student/ (git-ignored): solutions replaced by a placeholder.
student: setup
	$(PY) -m tools.student

## Opt-in, costs a few cents: every lesson on your AWS account, then a sweep of what is left.
## Refused unless CONFIRM=yes; PREFIX=proof-... picks the run's prefix (default: a random one).
test-aws: setup
	TUTORIAL_AWS_PROOF_CONFIRM=$(CONFIRM) $(PY) -m tools.prove_on_aws $(if $(PREFIX),--prefix $(PREFIX))

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Jupyter refuses to run as root without --allow-root (containers, Codespaces as root, CI boxes).
LAB_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

## Learners work in the student copies: made if missing (never overwritten), then JupyterLab on student/.
## The filled-in lessons in notebooks/ are for instructors, CI and the site.
LAB_DIR ?= student
lab: setup
	$(PY) -m tools.student --keep-existing --out $(LAB_DIR)
	$(PY) -m helpers up
	@if [ -n "$(LAB_ROOT)" ]; then echo "note: running as root, so JupyterLab starts with --allow-root (as a normal user it is not needed)"; fi
	$(VENV)/bin/jupyter lab $(LAB_ROOT) $(LAB_ARGS) $(LAB_DIR)/

## A learner's session in headless Chromium (.ci/install-browser): `make lab` on fresh student
## copies, Run All Cells, every check "Not yet"; then the solutions pasted in, every check "Right".
lab-check: setup $(DOCS_STAMP)
	$(DOCS_VENV)/bin/python -m tools.lab_check --venv $(VENV)

up: setup
	$(PY) -m helpers up

down: setup
	$(PY) -m helpers down

status: setup
	$(PY) -m helpers status

## Dry run: lists what the series created. `make clean-all` deletes it.
clean: setup
	$(PY) -m helpers clean

clean-all: setup
	$(PY) -m helpers clean --yes

benchmark: setup
	$(PY) -m benchmarks
