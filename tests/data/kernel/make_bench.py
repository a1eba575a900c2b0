#!/usr/bin/env python3
"""Writes the MNIST-sized benchmark of `ntkcert kernel --limit` into a directory (default
/tmp/ntkcert-kernel-bench): 1024 deterministic inputs of dimension 784 with pixel-like values
k/256 (exact binary numbers), a depth-3 relu MLP [784, 4, 4, 1] (the hidden widths do not
matter for the limit; the weights are only read), and the spec `bench.toml`. Nothing large is
committed: run this, then

    ntkcert kernel /tmp/ntkcert-kernel-bench/bench.toml --limit

Usage: make_bench.py [DIR] [N] [D] [ACTIVATION]
"""
import os
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ntkcert-kernel-bench"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
d = int(sys.argv[3]) if len(sys.argv) > 3 else 784
activation = sys.argv[4] if len(sys.argv) > 4 else "relu"
os.makedirs(out, exist_ok=True)

# SplitMix64, so the data do not depend on numpy's generators.
state = 20260101
mask = (1 << 64) - 1


def next_u64():
    global state
    state = (state + 0x9E3779B97F4A7C15) & mask
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


# Sparse-ish "images": each pixel is 0 with probability 1/2, else k/256 with k in 1..255.
raw = np.array([next_u64() for _ in range(n * d)], dtype=np.uint64)
on = (raw >> np.uint64(63)) == 1
k = ((raw >> np.uint64(8)) % np.uint64(255)) + np.uint64(1)
x = np.where(on, k.astype(np.float64) / 256.0, 0.0).reshape(n, d)
np.save(os.path.join(out, "x.npy"), x)

widths = [d, 4, 4, 1]
files = []
for layer in range(1, len(widths)):
    w = np.array([(next_u64() % 2001) / 1000.0 - 1.0 for _ in range(widths[layer] * widths[layer - 1])])
    name = f"W{layer}.npy"
    np.save(os.path.join(out, name), w.reshape(widths[layer], widths[layer - 1]))
    files.append(name)
np.save(os.path.join(out, "y.npy"), np.zeros(n))

with open(os.path.join(out, "bench.toml"), "w") as f:
    f.write(f"""# Written by tests/data/kernel/make_bench.py: {n} inputs of dimension {d}, depth 3, {activation}.
name = "kernel-bench-{n}x{d}-{activation}"
alpha = 1
horizon = 1
tolerance = "1"

[model]
kind = "mlp"
widths = {widths}
activation = "{activation}"
weight_variance = "2"
bias_variance = "1/10"

[weights]
source = "npy"
files = {files}

[data]
inputs_file = "x.npy"
targets_file = "y.npy"
""")
print(os.path.join(out, "bench.toml"))
