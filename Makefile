# Two commands for a fresh machine:  make demo  (the main job)  and  make test  (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test lint bench install clean dashboard

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

# uv installs the stack in seconds; it ignores pip's config, so pass the local wheel folder along
# (the CPU build of torch lives there; without it torch==2.13.0 resolves to the CUDA build).
FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(wildcard /opt/wheels))
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --python $(BIN)/python -q $(if $(FIND_LINKS),--find-links $(FIND_LINKS)) -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/prognos demo

lint: install
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/ingest_http.py
	$(BIN)/python benchmarks/ingest_mqtt.py
	$(BIN)/python benchmarks/query_downsample.py
	$(BIN)/python benchmarks/serving_swap.py
	$(BIN)/python benchmarks/serving_peers.py
	cd benchmarks && ../$(BIN)/python stream_throughput.py && ../$(BIN)/python stream_latency.py && ../$(BIN)/python stream_quality.py
	cd benchmarks && ../$(BIN)/python dashboard_render.py
	cd benchmarks && ../$(BIN)/python soak.py

# Refresh the dashboard's vendored chart library from the npm registry (its sha256 lands in VENDOR.json).
dashboard: install
	$(BIN)/python -m prognos.dashboard.vendor

clean:
	rm -rf $(VENV) prognos-data .pytest_cache .mypy_cache .ruff_cache
