# Two commands on a fresh machine: `make run` starts WaddleBot, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The browser tests (tests/browser) drive Debian's Chromium through playwright; playwright's
# own browser download is never used (`playwright install` needs hosts we cannot reach).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

run: install
	mkdir -p var
	$(BIN)/waddlebot db upgrade
	$(BIN)/waddlebot up

test: install $(CHROMIUM)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.router
	$(BIN)/python -m bench.overlay

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
