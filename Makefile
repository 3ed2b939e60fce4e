# Two commands on a fresh machine: `make run` starts WaddleBot, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# Installs are exactly what uv.lock says (`uv sync --locked` refuses a lock that no longer
# matches pyproject.toml). uv is a test dependency, so uv.lock pins uv too: the bootstrap below
# installs that version with pip, and a new lock is installed when pyproject.toml or uv.lock
# change (the stamp is named after both).
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock | cksum | cut -d' ' -f1)
# uv never downloads an interpreter: the venv's Python, made from $(PYTHON), is the one
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
LOWEST := .venv-lowest
# the Python of the lowest-versions venv: the project's own unless told (CI: the oldest supported)
LOWEST_PYTHON ?= $(BIN)/python

.PHONY: run test test-lowest lint typecheck bench install lock env-example clean swagger-ui htmx \
	axe-core uplot

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --extra test
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The browser tests (tests/browser) drive Debian's Chromium through playwright; playwright's
# own browser download is never used (`playwright install` needs hosts we cannot reach).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The alert rules' tests (tests/deploy/test_prometheus.py) run promtool, from Debian's
# prometheus package; without its Recommends (node-exporter and friends). Where Docker's
# policy-rc.d is in place its postinst starts nothing; on a host run by systemd it starts a
# Prometheus on :9090, which the tests do not need (`systemctl disable --now prometheus`).
PROMTOOL := /usr/bin/promtool
$(PROMTOOL):
	command -v promtool >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)

run: install
	mkdir -p var
	$(BIN)/waddlebot db upgrade
	$(BIN)/waddlebot up

# Two workers (pytest-xdist), a test file each at a time: every test's database, Redis key
# prefix, ports and processes are its own (tests/conftest.py), so files run side by side.
TEST_WORKERS ?= 2
test: install $(CHROMIUM) $(PROMTOOL)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# The floors in pyproject.toml hold: the unit tests pass on the LOWEST version every direct
# dependency allows (newest transitive ones), in a venv of their own made anew each time.
test-lowest: install
	rm -rf $(LOWEST)
	$(UV) venv --quiet --python $(LOWEST_PYTHON) $(LOWEST)
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[test]'
	$(LOWEST)/bin/pytest tests/unit -q -p no:cacheprovider

# .env.example lists every setting with its default; renew it after adding one (a unit test
# fails until then)
env-example: install
	$(BIN)/python -m waddlebot.env_example > .env.example

# After changing dependencies in pyproject.toml: `make lock` (keeps every other pin), commit
# uv.lock. `make lock LOCK_ARGS=--upgrade` moves every pin to the newest allowed.
lock: | $(UV)
	$(UV) lock $(LOCK_ARGS)

# bench.ingest drives its HTTP load with wrk (a Debian package)
WRK := /usr/bin/wrk
$(WRK):
	command -v wrk >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

bench: install $(WRK)
	$(BIN)/python -m bench.router
	$(BIN)/python -m bench.overlay
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.cluster

clean:
	rm -rf $(VENV) $(LOWEST) var .pytest_cache .mypy_cache .ruff_cache

# Swagger UI for /docs, served from the package so the page works offline. The files are
# committed; this target renews them from the npm registry: change the version, run
# `make swagger-ui`, commit what changed.
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI_DIR := src/waddlebot/web/static/swagger-ui
SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css \
	favicon-32x32.png LICENSE NOTICE
swagger-ui:
	rm -rf $(SWAGGER_UI_DIR).tmp && mkdir -p $(SWAGGER_UI_DIR).tmp
	cd $(SWAGGER_UI_DIR).tmp && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) \
		&& tar -xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz
	rm -rf $(SWAGGER_UI_DIR) && mkdir -p $(SWAGGER_UI_DIR)
	cd $(SWAGGER_UI_DIR).tmp/package && cp $(SWAGGER_UI_FILES) $(CURDIR)/$(SWAGGER_UI_DIR)/
	echo $(SWAGGER_UI_VERSION) > $(SWAGGER_UI_DIR)/VERSION
	rm -rf $(SWAGGER_UI_DIR).tmp

# htmx for the portal's pages (src/waddlebot/portal), vendored like Swagger UI: change the
# version, run `make htmx`, commit what changed.
HTMX_VERSION := 2.0.11
HTMX_DIR := src/waddlebot/portal/static/htmx
htmx:
	rm -rf $(HTMX_DIR).tmp && mkdir -p $(HTMX_DIR).tmp
	cd $(HTMX_DIR).tmp && npm pack --silent htmx.org@$(HTMX_VERSION) \
		&& tar -xzf htmx.org-$(HTMX_VERSION).tgz
	rm -rf $(HTMX_DIR) && mkdir -p $(HTMX_DIR)
	cp $(HTMX_DIR).tmp/package/dist/htmx.min.js $(HTMX_DIR).tmp/package/LICENSE $(HTMX_DIR)/
	echo $(HTMX_VERSION) > $(HTMX_DIR)/VERSION
	rm -rf $(HTMX_DIR).tmp

# uPlot, the chart library of the portal's dashboard (drawn by static/dashboard.js); renewed
# the same way with `make uplot`.
UPLOT_VERSION := 1.6.32
UPLOT_DIR := src/waddlebot/portal/static/uplot
uplot:
	rm -rf $(UPLOT_DIR).tmp && mkdir -p $(UPLOT_DIR).tmp
	cd $(UPLOT_DIR).tmp && npm pack --silent uplot@$(UPLOT_VERSION) \
		&& tar -xzf uplot-$(UPLOT_VERSION).tgz
	rm -rf $(UPLOT_DIR) && mkdir -p $(UPLOT_DIR)
	cp $(UPLOT_DIR).tmp/package/dist/uPlot.iife.min.js $(UPLOT_DIR).tmp/package/dist/uPlot.min.css \
		$(UPLOT_DIR).tmp/package/LICENSE $(UPLOT_DIR)/
	echo $(UPLOT_VERSION) > $(UPLOT_DIR)/VERSION
	rm -rf $(UPLOT_DIR).tmp

# axe-core, which the portal's browser tests run on each page for accessibility problems
# (tests/browser/test_portal_a11y.py); renewed the same way with `make axe-core`.
AXE_CORE_VERSION := 4.11.1
AXE_CORE_DIR := tests/browser/vendor/axe-core
axe-core:
	rm -rf $(AXE_CORE_DIR).tmp && mkdir -p $(AXE_CORE_DIR).tmp
	cd $(AXE_CORE_DIR).tmp && npm pack --silent axe-core@$(AXE_CORE_VERSION) \
		&& tar -xzf axe-core-$(AXE_CORE_VERSION).tgz
	rm -rf $(AXE_CORE_DIR) && mkdir -p $(AXE_CORE_DIR)
	cp $(AXE_CORE_DIR).tmp/package/axe.min.js $(AXE_CORE_DIR).tmp/package/LICENSE $(AXE_CORE_DIR)/
	echo $(AXE_CORE_VERSION) > $(AXE_CORE_DIR)/VERSION
	rm -rf $(AXE_CORE_DIR).tmp
