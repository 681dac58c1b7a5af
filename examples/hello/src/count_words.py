"""A tiny training-script stand-in: reads an input, logs progress, writes outputs."""

import argparse
import collections
import json
import os
import re
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--text", required=True)
parser.add_argument("--top", type=int, default=5)
parser.add_argument("--summary", required=True)
args = parser.parse_args()

print(os.environ.get("GREETING", "hello"), "- job", os.environ.get("AZUREML_RUN_ID"))
words = re.findall(r"[a-z']+", Path(args.text).read_text().lower())
counts = collections.Counter(words)
print(f"read {len(words)} words, {len(counts)} distinct")
for word, n in counts.most_common(args.top):
    print(f"{word:>12} {n}")

summary = {"words": len(words), "distinct": len(counts), "top": counts.most_common(args.top)}
Path(args.summary).mkdir(parents=True, exist_ok=True)
(Path(args.summary) / "summary.json").write_text(json.dumps(summary, indent=2))
Path("outputs").mkdir(exist_ok=True)
(Path("outputs") / "top_words.txt").write_text(
    "\n".join(f"{w} {n}" for w, n in counts.most_common(args.top)) + "\n"
)
