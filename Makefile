# lit-gemma: every target sets up what it needs, and setup is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv installs the same pins as pip would, several times faster; its version
# is pinned in constraints.txt. overrides.txt drops keras-hub's TensorFlow;
# --compile-bytecode as pip does (a start without .pyc files is seconds slower).
UV := $(VENV)/bin/uv
UV_PIP := $(UV) pip install --quiet --compile-bytecode --python $(PY) --override overrides.txt -c constraints.txt
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup serve prepare test bench browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt overrides.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "lit-gemma needs Python >= 3.11, found " + sys.version'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt uv
	$(UV_PIP) -e '.[test]'
	@# A venv made before TensorFlow was dropped still has it: remove it.
	$(UV) pip uninstall --quiet --python $(PY) tensorflow tensorflow-text 2>/dev/null || true
	touch $@

# Convert the embedded GGUF into the keras-hub preset cache and generate the
# datasets' responses for the server ARGS describe (done once; seconds after).
prepare: setup
	$(PY) -m lit_gemma.serve.prepare $(ARGS)

serve: prepare
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
