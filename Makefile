# The README's quick start: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
APT_PACKAGES := mosquitto mosquitto-clients libzbar0 xvfb xauth mtools dosfstools fdisk xz-utils cloud-init chromium
STAMP := $(VENV)/.installed
# Three workers on two cores: most tests wait on brokers, databases and child processes.
PYTEST_PAR ?= -n 3 --dist loadgroup

.PHONY: deps sysdeps venv test lint typecheck unit demo bench drills clean

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): setup.py pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 is required"; exit 1; }
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e ".[all,dev]"
	@touch $(STAMP)

venv: $(STAMP)

deps: sysdeps venv

lint: deps
	$(VENV)/bin/ruff check .

typecheck: deps
	$(VENV)/bin/mypy

unit: deps
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_PAR)

test: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_PAR)

demo: deps
	$(VENV)/bin/venue demo

drills: deps
	VENUE_DRILLS=1 $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/drills

bench: deps
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
