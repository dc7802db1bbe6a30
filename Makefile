# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LAYERS := graph loaders queries api viz

.PHONY: demo test install install-test browser lint pytest bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# the page's graph library, from the npm registry, served by credgraph itself (never a CDN)
viz/static/cytoscape.min.js: node_modules/.installed
	cp node_modules/cytoscape/dist/cytoscape.min.js $@

install: $(VENV)/.installed viz/static/cytoscape.min.js

install-test: $(VENV)/.installed-test node_modules/.installed viz/static/cytoscape.min.js browser

# the browser tests drive Debian's chromium through its chromedriver; pictures need a CJK font.
# Installed with apt where missing (as root, or through sudo when there is one).
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
	    -y -qq --no-install-recommends chromium chromium-driver fonts-wqy-zenhei) \
	  || echo "could not install chromium: the browser tests will be skipped"; \
	fi

demo: install
	$(VENV)/bin/credgraph demo

# mypy cannot follow setuptools' folder-to-package mapping, so it reads the package through a
# tree of symlinks laid out as it is installed: .typecheck/credgraph/{graph,loaders,...}
.typecheck/credgraph: pyproject.toml $(wildcard credgraph/*.py)
	rm -rf .typecheck && mkdir -p $@
	for f in credgraph/*.py; do ln -s ../../$$f $@/; done
	for d in $(LAYERS); do ln -s ../../$$d $@/$$d; done

lint: install-test .typecheck/credgraph
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MYPYPATH=.typecheck $(VENV)/bin/mypy -p credgraph

pytest: install-test
	$(PY) -m pytest

test: lint pytest

clean:
	rm -rf $(VENV) node_modules .typecheck .pytest_cache .mypy_cache .ruff_cache
