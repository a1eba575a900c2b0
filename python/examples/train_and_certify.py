"""Train a two-layer tanh network for a few steps (PyTorch-style, in numpy), then hand its
weights to ntkcert and certify that gradient flow from them follows the NTK linearisation.

    python python/examples/train_and_certify.py

The network is nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)) in the NTK
parameterisation (z = W x / sqrt(fan_in) + b); its state dict has the PyTorch names and shapes
(fc1.weight [16, 2], ...). With torch, `{k: v.detach().numpy() for k, v in
model.state_dict().items()}` gives the same dict.
"""

import numpy as np

import ntkcert

rng = np.random.default_rng(0)
d, m, n = 2, 16, 8
x = rng.uniform(-1, 1, size=(n, d))
y = np.sin(2 * x[:, 0]) * 0.5

state = {
    "fc1.weight": rng.standard_normal((m, d)),
    "fc1.bias": rng.standard_normal(m),
    "fc2.weight": rng.standard_normal((1, m)),
    "fc2.bias": rng.standard_normal(1),
}


def forward(s, x):
    h = np.tanh(x @ s["fc1.weight"].T / np.sqrt(d) + s["fc1.bias"])
    return (h @ s["fc2.weight"].T / np.sqrt(m) + s["fc2.bias"])[:, 0], h


# A few steps of full-batch gradient descent on 0.5 * mean squared error (manual backprop).
lr = 0.1
for step in range(20):
    out, h = forward(state, x)
    r = (out - y) / n
    g2w = r[None, :] @ h / np.sqrt(m)
    g2b = np.array([r.sum()])
    dh = (r[:, None] @ state["fc2.weight"] / np.sqrt(m)) * (1 - h**2)
    g1w = dh.T @ x / np.sqrt(d)
    g1b = dh.sum(axis=0)
    for k, g in [("fc1.weight", g1w), ("fc1.bias", g1b), ("fc2.weight", g2w), ("fc2.bias", g2b)]:
        state[k] = state[k] - lr * g
    if step % 5 == 0:
        print(f"step {step:2d}: loss {0.5 * np.mean((out - y) ** 2):.4f}")

# The trained weights are the initial point w0 of the flow ntkcert certifies. The float64
# arrays are taken exactly; alpha, horizon and tolerance are exact (strings or ints).
spec = ntkcert.Spec.mlp(state, x, y, activation="tanh", alpha=50, horizon=2, tolerance="1e-2", name="trained-tanh")
print(spec)
result = ntkcert.certify(spec, progress=False)
print("verdict:", result.verdict, "" if result.reason is None else f"({result.reason})")
print("sup_{t<=T} D(t) in", result.sup_deviation)
print("alpha g(w(T)) lower ends:", result.outputs_final.lo)
