# Two commands on a fresh machine: `make run` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-local.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
# What `make lint` checks with ruff (mypy reads its own `files` in pyproject.toml).
LINT_PATHS := bot imagebot_site manage.py tests bench scripts

.PHONY: run test lint venv migrate bench try clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-local.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

run: export DJANGO_DEBUG = 1
run: migrate
	$(BIN)/python manage.py local_admin --url http://$(HOST):$(PORT)/admin/
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (lint, then formatting) and mypy; settings in pyproject.toml. mypy checks its own `files`.
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/recognition.py
	$(BIN)/python bench/media_memory.py

# Try the whole bot without X: `make try PHOTO=path/to/photo.jpg` (spaces are fine: PHOTO="my dog.jpg").
# Exits non-zero when the tweet was not answered.
try: migrate
	@test -n "$(PHOTO)" || { echo 'usage: make try PHOTO=path/to/photo.jpg' >&2; exit 2; }
	$(BIN)/python manage.py try_mention "$(PHOTO)"

clean:
	rm -rf $(VENV) .pytest_cache
