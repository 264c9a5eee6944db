# Two commands set everything up on a fresh machine:
#   make forecast   install, then fit the Kursk scenario and print its forecast table
#   make test       install, then run the whole test suite, notebooks included (nbval)
# and one re-executes the notebooks in place after a change, or runs copies with other parameters:
#   make notebooks [SCENARIO=scenarios/forecasters/dove.yaml] [AS_OF=2024-12-31]
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup forecast test notebooks

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@# PyTensor links OpenBLAS for fast linear algebra; Debian ships it as libopenblas-dev
	@if ! ldconfig -p | grep -q libopenblas; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq libopenblas-dev >/dev/null; \
	  else echo "Please install OpenBLAS (e.g. sudo apt-get install libopenblas-dev)"; fi; \
	fi
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@# the editor's browser test drives Debian's chromium with playwright (which cannot
	@# download its own browser here)
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Please install chromium (e.g. sudo apt-get install chromium)"; fi; \
	fi
	@# compile the numba kernels once, so that the first fit does not (cached on disk)
	$(PY) -m forecast.warmup
	touch $@

forecast: setup
	$(VENV)/bin/forecast fit scenarios/kursk_2024.yaml

# NumPy and OpenBLAS pick their SIMD code (AVX2, AVX-512) by CPU, and PyTensor compiles for
# the CPU it runs on; the last bits of exp, log and dot products then differ between machines,
# enough for NUTS to take another path. The notebooks' stored outputs (their reference) are
# made and checked with the same code on every x86-64: NumPy's baseline, OpenBLAS's Nehalem
# kernels and PyTensor's x86-64-v2.
SAME_ON_EVERY_CPU := NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" \
  OPENBLAS_CORETYPE=Nehalem PYTENSOR_FLAGS="gcc__cxxflags=-march=x86-64-v2"

# --dist loadfile keeps each notebook's cells in one worker (they share a kernel);
# --nbval-lax compares only the cells tagged nbval-check-output but runs every cell.
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

# the layers (pyproject.toml [tool.importlinter]) and the public API's types come first, so a
# new upward import or a type error fails the run before the tests start
TYPED := forecast/api forecast/settings.py forecast/errors.py

test: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy $(TYPED)
	$(SAME_ON_EVERY_CPU) $(PY) -m pytest -n 2 --dist loadfile tests
	@# the notebooks after the tests: a kernel that shares the two cores with a test worker
	@# can miss nbval's fixed 5 s wait for a cell's output
	$(SAME_ON_EVERY_CPU) $(PY) -m pytest -n 2 --dist loadfile $(NBVAL) notebooks

# Without SCENARIO or AS_OF: re-execute notebooks/*.ipynb in place (their outputs are the tests'
# reference). With either: execute copies with those parameters (papermill, notebooks/run.py)
# into results/notebooks/<scenario stem>[_as_of_<date>]/, the originals untouched; a notebook
# that fails is reported with its cell, the others still run, and the exit code is non-zero.
notebooks: setup
ifneq ($(SCENARIO)$(AS_OF),)
	$(SAME_ON_EVERY_CPU) $(PY) notebooks/run.py $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(AS_OF),--as-of $(AS_OF))
else
	@# widget state (the editor's figures) is not stored: the live editor needs a kernel anyway
	$(SAME_ON_EVERY_CPU) $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --NotebookClient.store_widget_state=False notebooks/*.ipynb
endif
