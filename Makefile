# kyodo_analysis: `make report` and `make test` work on a fresh machine with python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := data/demo/study.yaml
SEED   ?= 20260401
FY     ?= 2025

.PHONY: setup report demo test test-fast lab lock lint clean bench

setup: $(STAMP)

# The lock pins every package with hashes; pip installs exactly that set, then the project itself.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name kyodo --display-name "kyodo_analysis (.venv)" > /dev/null
	touch $(STAMP)

# Regenerated when the generator changes, so the demo always fits the code that reads it.
$(DEMO): kyodo_analysis/demo/generate.py kyodo_analysis/demo/spec.py kyodo_analysis/demo/codebook.yaml | $(STAMP)
	$(BIN)/kyodo demo --out data/demo --seed $(SEED)

demo: $(DEMO)

report: $(STAMP) $(DEMO)
	$(BIN)/kyodo report --study $(DEMO) --fiscal-year $(FY)

# The suite runs on TEST_JOBS workers (pytest-xdist), whole test files per worker so that a
# file's report run (a module fixture) happens once.
TEST_JOBS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

lab: $(STAMP) $(DEMO)
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Regenerate the lock after changing dependencies in pyproject.toml (needs network to PyPI).
lock:
	$(PYTHON) -m venv /tmp/kyodo-lock-venv && /tmp/kyodo-lock-venv/bin/pip install --quiet uv
	/tmp/kyodo-lock-venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	    --generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(VENV) data/demo reports/*/ .pytest_cache
