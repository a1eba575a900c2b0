"""Notebook-style: certify one network at several scales alpha and plot sup D against alpha
(log-log) with matplotlib when it is installed; the lazy regime shows as sup D ~ 1/alpha.

    python python/examples/sweep_alpha.py [out.svg]
"""

import sys
from fractions import Fraction

import numpy as np

import ntkcert

# %% The network and data: the shipped .npy example (tanh, widths [2, 8, 1], with biases).
examples = __import__("pathlib").Path(__file__).resolve().parents[2] / "specs" / "examples"
weights = [np.load(examples / f) for f in ["npy_W1.npy", "npy_b1.npy", "npy_W2.npy", "npy_b2.npy"]]
x, y = np.load(examples / "npy_x.npy"), np.load(examples / "npy_y.npy")

# %% Certify at each alpha (exact: ints and Fractions).
alphas = [Fraction(5), Fraction(10), Fraction(20), Fraction(40), Fraction(80)]
rows = []
for alpha in alphas:
    spec = ntkcert.Spec.mlp(weights, x, y, activation="tanh", alpha=alpha, horizon=5, tolerance="0.01")
    r = ntkcert.certify(spec, progress=False)
    rows.append((alpha, r.sup_deviation, r.verdict))
    print(f"alpha = {str(alpha):>4}: sup D in {r.sup_deviation}  {r.verdict}")

# %% Plot the upper ends (the certified bounds) when matplotlib is there.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(matplotlib is not installed: no plot)")
else:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.loglog([float(a) for a, _, _ in rows], [s.hi for _, s, _ in rows], "o-", label="certified sup D (upper end)")
    ax.set_xlabel("alpha")
    ax.set_ylabel("sup D")
    ax.legend()
    out = sys.argv[1] if len(sys.argv) > 1 else "sweep_alpha.svg"
    fig.tight_layout()
    fig.savefig(out)
    print("wrote", out)
