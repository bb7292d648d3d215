# dlserve: `make serve` starts the daemon, `make test` runs every test.
# Both install what they need on a fresh Debian machine first.
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: deps build release test serve bench bench-http bench-jobs train-fashion-mnist fixtures clean

deps:
	./scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test:
	./scripts/install-deps.sh --test
	# Debug build; the engine targets are optimized even in debug (Package.swift),
	# so the numeric tests that train and evaluate real networks run at full speed.
	$(SWIFT) build --build-tests
	# The running daemon against openapi.yaml (schemathesis), then every XCTest.
	DLSERVE_BIN=.build/debug/dlserve ./scripts/schemathesis.sh
	$(SWIFT) test --skip-build

serve: release
	.build/release/dlserve serve --host $(HOST) --port $(PORT) --models ./models --state ./var

bench:
	./scripts/install-deps.sh --bench
	$(SWIFT) build -c release --product dlserve-bench
	.build/release/dlserve-bench
	python3 scripts/bench/peers.py
	# Batch-1 latency against onnxruntime in alternating rounds (the VM's speed drifts).
	python3 scripts/bench/interleaved.py .build/release/dlserve-bench

bench-http: release
	./scripts/install-deps.sh --bench
	./scripts/bench-http.sh

# Serving latency while a training job runs in the same daemon.
bench-jobs: release
	./scripts/install-deps.sh --bench
	BUILD=0 ./scripts/bench-jobs.sh

train-fashion-mnist: release
	.build/release/dlserve train recipes/fashion-mnist.json --models ./models

fixtures:
	python3 scripts/fixtures/conv_fixtures.py
	python3 scripts/fixtures/dense_fixtures.py
	python3 scripts/fixtures/optim_fixtures.py

clean:
	rm -rf .build
