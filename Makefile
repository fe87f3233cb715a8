# The commands the README names. Each sets up the virtual environment first, so on a
# fresh machine `make lessons` and `make test` are all there is to type.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: setup lessons test test-unit test-notebooks test-aws lint format lab up down status clean clean-all benchmark

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## Run every lesson headless on the backend from .env (local by default).
lessons: setup
	$(PY) -m helpers run

## Lint, unit and fault tests, then the notebooks compared with their committed outputs.
test: setup lint test-unit test-notebooks

test-unit: setup
	$(PY) -m pytest tests

test-notebooks: setup
	$(PY) -m pytest $(NBVAL) notebooks

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

lab: setup
	$(PY) -m helpers up
	$(VENV)/bin/jupyter lab notebooks/

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
