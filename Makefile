# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LAYERS := graph loaders queries api viz

.PHONY: demo test install install-test lint pytest bench clean

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

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test node_modules/.installed

demo: install
	$(VENV)/bin/credgraph demo

# mypy cannot follow setuptools' folder-to-package mapping, so it reads the package through a
# tree of symlinks laid out as it is installed: .typecheck/credgraph/{graph,loaders,...}
.typecheck/credgraph: pyproject.toml
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
