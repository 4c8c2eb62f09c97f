# Two entry points (the README quick start): `make tiny` runs the study offline on the tiny
# preset; `make test` runs the test suite. Both create the virtual environment first.
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 2
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: tiny test lint format

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

tiny: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --configfile presets/tiny.yaml

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check scripts tests
	$(VENV)/bin/ruff format --check scripts tests
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint

format: $(VENV)/.installed
	$(VENV)/bin/ruff format scripts tests
	$(VENV)/bin/snakefmt Snakefile rules
