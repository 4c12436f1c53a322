# Two commands on a fresh machine: `make run` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-local.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
# What `make lint` checks with ruff (mypy reads its own `files` in pyproject.toml).
LINT_PATHS := bot imagebot_site manage.py tests bench scripts

.PHONY: run test lint venv migrate bench bench-package package try clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-local.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# psycopg 3 was the driver before psycopg2 (issue 10); Django prefers it when both are installed.
	$(BIN)/python -m pip uninstall --quiet --disable-pip-version-check -y psycopg psycopg-binary 2>/dev/null || true
	rm -f $(VENV)/.installed-*
	touch $@

# The Lambda package's own virtualenv: requirements.txt alone, made afresh when it changes
# (never .venv, which also holds the test tools and the local recogniser's ML packages).
PKG_VENV := .venv-package
PKG_BIN := $(PKG_VENV)/bin
PKG_STAMP := $(PKG_VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
STAGE ?= dev
PACKAGE := build/imagebot-$(STAGE).zip

$(PKG_STAMP): requirements.txt
	rm -rf $(PKG_VENV)
	$(PYTHON) -m venv $(PKG_VENV)
	$(PKG_BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# `zappa package`, offline: the wheels installed here are already Lambda's (no PyPI look-ups,
# use_precompiled_packages is off), so build on Linux x86_64 with the runtime's Python.
# The admin's static files are collected into the package (staticfiles/, served by WhiteNoise).
# Then the bytecode of what a cold start imports goes in (scripts/package_bytecode.py: Lambda
# cannot write it, so without it every cold start compiles). Prints the package's zipped and
# unzipped size. Deploy this file: `zappa deploy|update <stage> --zip build/imagebot-<stage>.zip`
# (README, "Deploy"); the exclusions live in zappa_settings.json.
package: $(PKG_STAMP)
	$(PKG_BIN)/python -c 'import platform, sys; ok = sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info[:2] == (3, 11); sys.exit(0 if ok else "the package needs Linux x86_64 and Python 3.11, as the Lambda runtime (zappa_settings.json)")'
	rm -rf build staticfiles
	mkdir -p build
	$(PKG_BIN)/python manage.py collectstatic --noinput --verbosity 0
	VIRTUAL_ENV=$(abspath $(PKG_VENV)) PATH="$(abspath $(PKG_BIN)):$$PATH" $(PKG_BIN)/zappa package $(STAGE) --output $(PACKAGE)
	$(PKG_BIN)/python scripts/package_bytecode.py $(PACKAGE)
	$(PKG_BIN)/python bench/package.py --sizes $(PACKAGE)

# The package's size and cold start, beside the commit before the Lambda work (bench/package.py).
bench-package: $(PKG_STAMP)
	rm -rf staticfiles
	$(PKG_BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(PKG_BIN)/python bench/package.py

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

# bench/load.py drives gunicorn with wrk (a Debian package): installed here when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
bench: $(STAMP)
	command -v wrk >/dev/null || $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq wrk \
		|| { $(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq wrk; }
	$(BIN)/python bench/load.py
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/recognition.py
	$(BIN)/python bench/media_memory.py
	$(BIN)/python bench/console.py

# Try the whole bot without X: `make try PHOTO=path/to/photo.jpg` (spaces are fine: PHOTO="my dog.jpg").
# Exits non-zero when the tweet was not answered.
try: migrate
	@test -n "$(PHOTO)" || { echo 'usage: make try PHOTO=path/to/photo.jpg' >&2; exit 2; }
	$(BIN)/python manage.py try_mention "$(PHOTO)"

clean:
	rm -rf $(VENV) $(PKG_VENV) build staticfiles .pytest_cache
