# Two entry points (the README quick start): `make tiny` runs the study offline on the tiny
# preset; `make test` runs the test suite. Both create the virtual environment first.
# DVC: `make repro|push|pull RUN=tiny|study` (see dvc.yaml and the README).
VENV ?= .venv
BIN ?= $(VENV)/bin
SETUP ?= $(VENV)/.installed
PY := $(BIN)/python
CORES ?= 2
RUN ?= tiny
CONFIG_tiny := --configfile presets/tiny.yaml
CONFIG_study :=
RESULTS_tiny := results/tiny
RESULTS_study := results
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DVC_NO_ANALYTICS := 1

.PHONY: tiny pdf test test-fast lint format docs report repro push pull check-config check-release label gpu-check

# A config stack checked as the workflow checks it: each file's YAML syntax (Snakemake's own
# message names neither file nor line), then config.yaml + CONFIG merged against the schema,
# its cross-key checks and every protocol's view. Prints what it checked; exits 1 naming the
# key and the reason: `make check-config CONFIG=presets/x.yaml`.
CONFIG ?= presets/tiny.yaml
check-config: $(SETUP)
	PYTHONPATH=scripts $(PY) -m hhalign.config config.yaml $(CONFIG)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The PDF report (results/tiny/paper/report.pdf) too where TeX Live is installed; without it
# the run says how to build it later (make pdf RUN=tiny).
HAVE_LATEX = $(shell command -v latexmk >/dev/null && command -v pdflatex >/dev/null && echo yes)
PDF_tiny := $(if $(HAVE_LATEX),$(RESULTS_tiny)/paper/report.pdf)
# `make tiny LABELS=labels.csv`: a reviewer's labels (make label) judge the judge.
LABELS ?=
LABELS_ARG := $(if $(LABELS),--config labels=$(abspath $(LABELS)))

tiny: $(SETUP)
	PYTHONPATH=scripts $(PY) -m hhalign.config config.yaml presets/tiny.yaml
	$(BIN)/snakemake all $(PDF_tiny) --cores $(CORES) $(LABELS_ARG) --configfile presets/tiny.yaml

# The PDF reproduction report of a run (RUN=tiny|study; needs latexmk and pdflatex).
pdf: $(SETUP)
	$(BIN)/snakemake $(RESULTS_$(RUN))/paper/report.pdf --cores $(CORES) $(CONFIG_$(RUN))

# On a lent GPU, under 8 min: the suite at full size and training jobs 1, 2 and 4 at a time,
# with and without the throughput switches (results/gpu-check/gpu_check.json and .md;
# docs/performance.md). GPU_CHECK_ARGS=--dry runs it on a CPU at quick size.
gpu-check: $(SETUP)
	PYTHON=$(PY) scripts/gpu_check.sh --out results/gpu-check $(GPU_CHECK_ARGS)

# Two workers, one test file each at a time (module fixtures stay in one process): most of
# the suite's time is Snakemake jobs importing torch, which a second worker overlaps. The long
# modules go first, in conftest.py's order (LONG_FIRST), so the workers finish together.
test: $(SETUP)
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15

# The edit-test loop: unit and statistics tests, no Snakemake run, no training (under 2 min).
test-fast: $(SETUP)
	$(PY) -m pytest -n 2 -q -m "not slow and not dag and not realdata"

# Snakemake's HTML report of a run (RUN=tiny|study): builds what is missing (the training and
# data figures), then $(RESULTS_$(RUN))/report.zip; unzip it and open report/report.html.
report: $(SETUP)
	$(BIN)/snakemake --cores $(CORES) report_inputs $(CONFIG_$(RUN))
	$(BIN)/snakemake report_inputs --report $(RESULTS_$(RUN))/report.zip $(CONFIG_$(RUN))

# The reviewer's first hour: prompts, judge and Base generation against the authors' release
# (RUN=study: the real models, minutes on a GPU; RUN=tiny exercises it on the tiny world).
check-release: $(SETUP)
	$(BIN)/snakemake --cores $(CORES) $(RESULTS_$(RUN))/release_check/summary.md $(CONFIG_$(RUN))
	cat $(RESULTS_$(RUN))/release_check/summary.md

lint: $(SETUP)
	$(BIN)/ruff check scripts tests
	$(BIN)/ruff format --check scripts tests
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

# The configuration reference, generated from the schema (a test fails when it is stale).
docs: $(SETUP)
	PYTHONPATH=scripts $(PY) -m hhalign.schema_doc > docs/configuration.md

format: $(SETUP)
	$(BIN)/ruff format scripts tests
	$(BIN)/snakefmt Snakefile rules

# DVC: run a stage from scratch, share its outputs, or fetch them into a fresh clone.
repro: $(SETUP)
	dvc repro $(RUN)

push: $(SETUP)
	dvc push $(RUN)

# After `dvc pull` every file has the pull's timestamp, in no particular order. Snakemake's
# --touch marks the pulled outputs up to date in DAG order (no job runs), then the second run
# builds only what DVC does not store: the tables and figures, from the pulled scores.
pull: $(SETUP)
	dvc pull $(RUN)
	snakemake --cores 1 --touch --omit-from make_tables plot_figures audit_responses make_claims decompose_variance compare_judges $(CONFIG_$(RUN))
	snakemake --cores $(CORES) $(CONFIG_$(RUN))

# A reviewer's labels (docs/judges.md): the blind sample to label by hand, as one HTML page
# (open it from disk: no server) and a spreadsheet, under $(RESULTS_$(RUN))/labels/.
label: $(SETUP)
	$(BIN)/snakemake --cores $(CORES) $(RESULTS_$(RUN))/labels/sheet.html $(CONFIG_$(RUN))
	@echo "open $(RESULTS_$(RUN))/labels/sheet.html, label, export labels.csv, then set labels: in the config"
