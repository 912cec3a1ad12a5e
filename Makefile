# `make demo` and `make test` each set up .venv on first use, then run. The demo installs only what it uses
# (ember, NumPy, matplotlib); the tests add pytest, hypothesis, ruff, ml_dtypes, safetensors, scikit-learn,
# mpi4py with Open MPI (ember.distributed) and the PyTorch oracle. Without make: `pip install .` then
# `python -m ember.examples` (README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.ember-demo
STAMP := $(VENV)/.ember-test

.PHONY: demo test test-cuda fuzz bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(DEMO_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e '.[demo]'
	touch $(DEMO_STAMP)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e '.[test,extras,examples,distributed]'
	# The PyTorch oracle is optional: tests that need it skip cleanly without it.
	-$(PY) -m pip install -q 'torch==2.13.0'
	touch $(STAMP)

demo: $(DEMO_STAMP)
	$(PY) examples/seed_walkthrough.py

test: $(STAMP)
	$(VENV)/bin/ruff check ember tests benchmarks examples
	$(PY) -m pytest tests

# The device tests (tests/cuda) on the emulated cuda device, plus the seed walkthrough and examples there; on a
# machine with a GPU and CuPy, benchmarks/gpu_check.sh runs them on the real device.
test-cuda: $(STAMP)
	EMBER_EMULATE_CUDA=1 $(PY) -m pytest tests/cuda
	EMBER_EMULATE_CUDA=1 $(PY) examples/seed_walkthrough.py --device cuda --steps 200 --out out/cuda

# Differential fuzzing against PyTorch with a fresh seed (tests/differential); FUZZ_ARGS="--seconds 600 --seed 1"
fuzz: $(STAMP)
	$(PY) -m tests.differential.fuzz $(FUZZ_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check ember tests benchmarks examples

clean:
	rm -rf $(VENV) out
