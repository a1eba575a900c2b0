#!/usr/bin/env python3
"""Writes the research-sized benchmark nets of specs/bench/deep-tanh-w*.toml (issue 19): deep tanh
MLPs [10, W, W, 1] in NTK parameterisation without biases, 100 inputs, with every weight, input
and target drawn N(0, 1) by numpy's PCG64 generator (`numpy.random.default_rng(seed)`), in this
order: X (100 x 10), y (100), W1 (W x 10), W2 (W x W), W3 (1 x W); then each input row is
scaled to unit length (inputs on the sphere, the usual NTK convention; with raw N(0,1) inputs
D(T) is about 3e-2, above the benchmark's eps). float64 .npy files, read
exactly by ntkcert. Seeds: width 128 -> 128, width 512 -> 512.

    python3 make_deep.py            # (re)writes w128_*.npy and w512_*.npy here (needs numpy)
"""
import os
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

def make(width, n=100, d=10):
    rng = np.random.default_rng(width)
    arrays = {
        "x": rng.standard_normal((n, d)),
        "y": rng.standard_normal(n),
        "W1": rng.standard_normal((width, d)),
        "W2": rng.standard_normal((width, width)),
        "W3": rng.standard_normal((1, width)),
    }
    arrays["x"] /= np.linalg.norm(arrays["x"], axis=1, keepdims=True)
    for name, a in arrays.items():
        np.save(os.path.join(HERE, f"w{width}_{name}.npy"), a)

if __name__ == "__main__":
    for width in (128, 512):
        make(width)
