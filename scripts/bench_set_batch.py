#!/usr/bin/env python3
"""Sets serving.max_batch_size in a model's config.json (used by bench-http.sh
to turn dynamic batching off with 1)."""
import json
import sys

path, size = sys.argv[1], int(sys.argv[2])
config = json.load(open(path))
config.setdefault("serving", {})["max_batch_size"] = size
json.dump(config, open(path, "w"), indent=2)
