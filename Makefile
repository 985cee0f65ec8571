# binfut — every target creates or reuses .venv and installs what it needs.
# The interpreter the venv is made from: the system's own CPython when it is >= 3.11 and can make a
# venv (distributions build it with profile-guided optimization and LTO; an interpreter that pyenv built
# with its defaults has neither, and runs the engine about 15 % slower: bench/README.md), else the first
# `python3` on PATH.  `make PYTHON=...` picks another; an existing .venv is kept as it is.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	$$p -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; exit; }; done; echo python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.binfut-installed
BENCH_STAMP := $(VENV)/.binfut-bench-installed
# the mypyc-compiled copy of binfut (scripts/build_compiled.py); rebuilt when a source file changes
COMPILED := build/compiled/.binfut-compiled
SOURCES  := $(shell find src/binfut -name '*.py')
# the tests that exercise the engine, run a second time on the compiled build
COMPILED_TESTS := tests/test_compiled.py tests/unit/test_clock.py tests/unit/test_money.py tests/unit/matching tests/unit/trading tests/integration/emulator

.PHONY: all install compiled wheel demo test bench lint gen clean

all: test

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "binfut needs Python >= 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall when the project's dependency list changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,anchors]'
	@touch $(STAMP)

install: $(STAMP)

$(COMPILED): $(SOURCES) scripts/build_compiled.py | $(STAMP)
	$(PY) scripts/build_compiled.py
	@touch $(COMPILED)

compiled: $(COMPILED)

# A wheel with the compiled engine inside (hatch_build.py), for this Python and platform, in dist/.
# It packs the build above, which `make test` checks; `pip wheel .` elsewhere compiles its own.
wheel: $(COMPILED)
	BINFUT_COMPILED_FROM=build/compiled $(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist .

demo: $(STAMP)
	$(PY) -m binfut.demo $(DEMO_ARGS)

test: $(STAMP) $(COMPILED)
	$(PY) scripts/gen_endpoints.py --check
	$(VENV)/bin/ruff check src tests scripts bench hatch_build.py
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict hatch_build.py
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)
	PYTHONPATH=build/compiled BINFUT_ENGINE_BUILD=compiled $(VENV)/bin/pytest -q -p no:cacheprovider $(COMPILED_TESTS)

# The benchmark anchors (backtrader, vectorbt, unicorn...) are only needed here.
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) $(COMPILED)
	$(PY) bench/run_all.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts bench hatch_build.py
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict hatch_build.py

gen: $(STAMP)
	$(PY) scripts/gen_endpoints.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build/compiled build/compiled.tmp dist
