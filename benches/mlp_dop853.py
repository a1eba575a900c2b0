#!/usr/bin/env python3
"""The float solve a user would write, for `ntkcert bench`: gradient flow of a centred deep tanh
MLP (NTK parameterisation, no biases, one output) solved by scipy's DOP853 at
rtol = atol = 1e-13 (looser tolerances get D wrong: at 1e-8, D(T) on gf-mlp-mid is 7x too
large), the right-hand side vectorised in numpy, and the linearised model by an eigen-
decomposition of K0. Not rigorous.

    python3 mlp_dop853.py X.npy Y.npy ALPHA T W1.npy ... WL.npy

Prints one JSON line: {"seconds": wall time of the solve (loading excluded), "steps": nfev/12,
"final_deviation": D(T)}.
"""
import json
import sys
import time

import numpy as np
import scipy.integrate


def main():
    x = np.load(sys.argv[1])
    y = np.load(sys.argv[2]).reshape(-1)
    alpha, horizon = float(sys.argv[3]), float(sys.argv[4])
    weights0 = [np.load(p) for p in sys.argv[5:]]
    shapes = [w.shape for w in weights0]
    sizes = [w.size for w in weights0]
    layers = len(weights0)

    def unpack(flat):
        out, at = [], 0
        for shape, size in zip(shapes, sizes):
            out.append(flat[at:at + size].reshape(shape))
            at += size
        return out

    def forward(weights):
        acts = [x]
        a = x
        for l, w in enumerate(weights):
            z = a @ w.T / np.sqrt(w.shape[1])
            a = np.tanh(z) if l < layers - 1 else z
            acts.append(a)
        return acts

    def gradient(weights, cotangent):
        acts = forward(weights)
        grads = [None] * layers
        delta = cotangent[:, None]
        for l in range(layers - 1, -1, -1):
            w = weights[l]
            scale = 1.0 / np.sqrt(w.shape[1])
            grads[l] = scale * delta.T @ acts[l]
            if l > 0:
                delta = (scale * delta @ w) * (1.0 - acts[l] ** 2)
        return np.concatenate([g.ravel() for g in grads])

    w0 = np.concatenate([w.ravel() for w in weights0])
    h0 = forward(weights0)[-1][:, 0]

    def rhs(_t, flat):
        weights = unpack(flat)
        residual = alpha * (forward(weights)[-1][:, 0] - h0) - y
        return -gradient(weights, residual) / alpha

    started = time.perf_counter()
    solution = scipy.integrate.solve_ivp(rhs, (0.0, horizon), w0, method="DOP853", rtol=1e-13, atol=1e-13)
    final = alpha * (forward(unpack(solution.y[:, -1]))[-1][:, 0] - h0)
    jacobian = np.stack([gradient(weights0, row) for row in np.eye(len(y))])
    eigenvalues, vectors = np.linalg.eigh(jacobian @ jacobian.T)
    linear = y - vectors @ (np.exp(-eigenvalues * horizon) * (vectors.T @ y))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "steps": int(solution.nfev // 12), "final_deviation": float(np.linalg.norm(final - linear))}))


main()
