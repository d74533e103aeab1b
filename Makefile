# Two entry points (see README):  make demo   |   make test
# Both do all set-up first: a virtual environment in .venv with the pinned requirements.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
CONFIG ?= config/demo.yaml
# pytest processes for `make test` (pytest-xdist; each test file runs whole in one of them, so a
# module's shared run is built once). 2 uses both cores of a 2-core machine; 0 runs in-process.
TEST_WORKERS ?= 2

.PHONY: setup browser demo report test test-fast test-slurm lint bench bench-reruns clean-test

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e . --config-settings editable_mode=compat
	touch $@

# The main job: the whole workflow on the demo config on this machine, then the HTML report.
demo: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html
	@echo "Done: results/hotspots/hotspots.csv, results/report.html"

report: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html

# The explorer's browser tests drive the system's Chromium, headless (nothing is downloaded at
# run time): installed here when missing and we are root with apt; otherwise they fail, saying
# why.
browser:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; \
	  else echo "chromium is not installed: the explorer's browser tests will fail"; fi; }

# All tests (slow and real-SLURM ones included). pytest exit code 5 (no tests ran) is a failure.
test: setup browser lint
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -p no:cacheprovider --durations=25 -n $(TEST_WORKERS) --dist loadfile tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-fast: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -m "not slow and not slurm" tests

test-slurm: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -m slurm tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no SLURM test ran: failing"; exit 1; fi; exit $$rc

lint: setup
	$(BIN)/snakefmt --check Snakefile rules/
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --lint --configfile config/test.yaml

bench: setup
	$(BIN)/python benchmarks/bench_similarity.py --out benchmarks/results/similarity.md
	$(BIN)/python benchmarks/bench_train.py --threads 2 --repeats 3 --out benchmarks/results/train.md
	$(BIN)/python benchmarks/bench_boost.py --threads 1 --out benchmarks/results/boost.md

# The paper's scale after training (3,000 channels, N = 1,000): about 10 minutes on 2 idle cores.
bench-paper-scale: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/paper_scale.py --out benchmarks/results/paper_scale.md

# A real 50-member run (about 12 minutes), then dry-run job counts per kind of change.
bench-reruns: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/rerun_counts.py --out benchmarks/results/reruns.md
