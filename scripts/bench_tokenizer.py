#!/usr/bin/env python3
"""Encoding throughput of sota's Go tokenizer against Hugging Face
`tokenizers` (Rust, through its Python package), single thread, same text,
same run.

Usage (from the repository root, after `make pyenv`):
    .venv/bin/python scripts/bench_tokenizer.py [--model llama3.1-tokenizer] [--runs 20]

The text is what BenchmarkEncode* in tokenizer/bench_test.go encodes: the
golden corpus of testdata/tokenizer/llama3.1.json (prose, code, numbers,
whitespace runs, CJK, emoji), joined with newlines and cut to 1 MiB. Both
sides encode it whole with special tokens, warm (their word caches filled by
a first pass); the figure is the median over the runs. Prints one line per
side and the ratio Go / Rust.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = {"llama3.1-tokenizer": "EncodeLlama3", "qwen3-tokenizer": "EncodeQwen3", "llama2-tokenizer": "EncodeLlama2"}
# Per-line variants (the text encoded one line at a time).
BENCH_LINES = {"llama3.1-tokenizer": "EncodeLlama3Lines"}


def bench_text(n=1 << 20):
    with open(os.path.join(ROOT, "testdata", "tokenizer", "llama3.1.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    parts, size = [], 0
    while size < n:
        for c in cases:
            s = (c["text"] + "\n").encode("utf-8")
            parts.append(s)
            size += len(s)
    return b"".join(parts)[:n].decode("utf-8", errors="replace")


def python_side(model_dir, text, runs, lines):
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import tokenizers
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    inputs = text.splitlines(keepends=True) if lines else [text]
    for s in inputs:  # warm the cache
        tok.encode(s, add_special_tokens=True)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for s in inputs:
            tok.encode(s, add_special_tokens=True)
        times.append(time.perf_counter() - t0)
    nbytes = len(text.encode("utf-8"))
    return nbytes / statistics.median(times) / 1e6, tokenizers.__version__


def go_side(name, runs, lines):
    bench = BENCH_LINES[name] if lines else BENCH[name]
    cmd = ["go", "test", "-run", "^$", "-bench", "^Benchmark%s$" % bench, "-benchtime", "%dx" % runs,
           "-cpu", "1", "-count", "3", "./tokenizer/"]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rates = [float(m) for m in re.findall(r"([\d.]+) MB/s", out)]
    if not rates:
        sys.exit("no MB/s in go test output:\n" + out)
    return statistics.median(rates), " ".join(cmd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="llama3.1-tokenizer", choices=sorted(BENCH))
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    models = os.environ.get("SOTA_SHARED_MODELS", os.path.join(ROOT, "..", "shared", "models"))
    text = bench_text()
    print("machine: %s, %d CPUs visible" % (os.uname().machine, os.cpu_count()))
    print("text: %d bytes (1 MiB mixed corpus), tokenizer %s, single thread" % (len(text.encode()), args.model))
    for lines in [False, True] if args.model in BENCH_LINES else [False]:
        how = "one line at a time" if lines else "whole text in one call"
        py_rate, version = python_side(os.path.join(models, args.model), text, args.runs, lines)
        go_rate, go_cmd = go_side(args.model, args.runs, lines)
        print("[%s]" % how)
        print("  rust tokenizers %s (Python package): %8.2f MB/s" % (version, py_rate))
        print("  sota Go tokenizer (%s): %8.2f MB/s" % (go_cmd, go_rate))
        print("  ratio Go / Rust: %.2f" % (go_rate / py_rate))


if __name__ == "__main__":
    main()
