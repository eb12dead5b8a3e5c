# Everything a newcomer needs: `make run` builds a scene, `make test` runs the tests.
# Both create the virtual environment and install the project on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROMPT ?= a cozy bedroom with a reading corner, two bookshelves and a green armchair
NPM ?= npm
NODE_STAMP := tests/tools/node_modules/.installed-stamp

.PHONY: install run up test lint format bench schema clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/holodeck build "$(PROMPT)" --out out

up: install
	$(BIN)/holodeck up

# The Khronos glTF validator (an npm package) checks every scene file the tests build.
$(NODE_STAMP): tests/tools/package.json tests/tools/package-lock.json
	@command -v node >/dev/null || { echo "Node.js 18+ (node and npm) is needed: the glTF validity tests run the Khronos validator"; exit 1; }
	$(NPM) ci --prefix tests/tools --no-audit --no-fund
	touch $(NODE_STAMP)

# The web page is tested in a real headless Chromium (Debian's package; no browser download).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "The web page test needs Chromium: sudo apt-get install -y chromium"; exit 1; \
	fi

# The alert rules are unit-tested by promtool (Debian's prometheus package).
PROMTOOL ?= /usr/bin/promtool
$(PROMTOOL):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	else \
		echo "The alert rule tests need promtool: sudo apt-get install -y prometheus"; exit 1; \
	fi

test: install lint $(NODE_STAMP) $(CHROMIUM) $(PROMTOOL)
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services shared

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/e2e.py

schema: install
	$(BIN)/holodeck schema --out docs/schemas

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache tests/tools/node_modules
