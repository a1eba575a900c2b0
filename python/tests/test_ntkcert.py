"""Tests of the Python package against the command line (the same library, two faces).

The CLI binary: $NTKCERT_BIN, else target/release/ntkcert of this repository (.ci/run builds it
before these tests run).
"""

import json
import os
import signal
import struct
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import ntkcert

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "specs" / "examples"
CLI = os.environ.get("NTKCERT_BIN", str(ROOT / "target" / "release" / "ntkcert"))


def cli(*args, check=True):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode not in (0, 1, 2):
        raise AssertionError(f"ntkcert {args} exited {p.returncode}: {p.stderr}")
    return p


def cli_certify(path):
    p = cli("certify", path, "--json", "--quiet")
    return json.loads(p.stdout)


ENCLOSURES = ["verdict", "reason", "sup_deviation", "final_deviation", "outputs_final", "linear_outputs_final", "r0", "steps"]


def same_enclosures(a, b):
    for k in ENCLOSURES:
        assert a[k] == b[k], f"{k}: {a[k]} != {b[k]}"


def npy_example():
    w = [np.load(EXAMPLES / f) for f in ["npy_W1.npy", "npy_b1.npy", "npy_W2.npy", "npy_b2.npy"]]
    return w, np.load(EXAMPLES / "npy_x.npy"), np.load(EXAMPLES / "npy_y.npy")


def npy_spec(**overrides):
    w, x, y = npy_example()
    kw = dict(activation="tanh", alpha=20, horizon=5, tolerance="0.01", name="mlp-npy-tanh")
    kw.update(overrides)
    return ntkcert.Spec.mlp(w, x, y, **kw)


def test_numpy_spec_gives_bit_identical_intervals_to_the_cli(tmp_path):
    spec = npy_spec()
    result = ntkcert.certify(spec, progress=False)
    ours = result.to_dict()
    same_enclosures(ours, cli_certify(EXAMPLES / "mlp-npy.toml"))
    # ... and the spec it writes certifies identically through the CLI.
    written = spec.to_toml(tmp_path)
    same_enclosures(ours, cli_certify(written))
    assert ntkcert.Spec.from_toml(written).spec_sha256 == spec.spec_sha256
    # The Interval objects are the JSON's endpoints, exactly.
    assert result.sup_deviation.lo == ours["sup_deviation"]["lo"]
    assert result.sup_deviation.hi == ours["sup_deviation"]["hi"]
    assert list(result.outputs_final.lo) == [o["lo"] for o in ours["outputs_final"]]
    assert list(result.outputs_final.hi) == [o["hi"] for o in ours["outputs_final"]]
    assert result.verdict in ("certified", "refuted", "inconclusive")


def read_safetensors(path):
    """A state dict from a .safetensors file (safetensors.numpy.load_file when installed)."""
    try:
        from safetensors.numpy import load_file

        return load_file(str(path))
    except ImportError:
        data = Path(path).read_bytes()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        dtypes = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}
        out = {}
        for name in sorted(k for k in header if k != "__metadata__"):
            t = header[name]
            a, b = t["data_offsets"]
            out[name] = np.frombuffer(data[8 + n + a : 8 + n + b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
        return out


def test_state_dict_from_the_safetensors_example_certifies_as_the_cli():
    state = read_safetensors(EXAMPLES / "model.safetensors")
    inputs = [["0.2", "-0.4", "1"], ["-1", "0.5", "0.25"], ["0.75", "0.1", "-0.6"]]
    targets = ["0.5", "-0.25", "0.1"]
    spec = ntkcert.Spec.mlp(state, inputs, targets, activation="sigmoid", alpha=10, horizon=4, tolerance="0.01", bias=True)
    assert spec.num_params == 6 * 4 + 1 * 7
    same_enclosures(ntkcert.certify(spec, progress=False).to_dict(), cli_certify(EXAMPLES / "mlp-safetensors.toml"))


def test_float32_arrays_and_floats_are_taken_exactly(tmp_path):
    w, x, y = npy_example()
    w32 = [a.astype(np.float32) for a in w]
    # float32 weights: the CLI reads the same float32 .npy files exactly ...
    s32 = ntkcert.Spec.mlp(w32, x, y, activation="tanh", alpha=20, horizon=5, tolerance="0.01")
    # ... and their float64 widening (exact) is the same problem: identical enclosures.
    s64 = ntkcert.Spec.mlp([a.astype(np.float64) for a in w32], x, y, activation="tanh", alpha=20, horizon=5, tolerance="0.01")
    r32, r64 = ntkcert.certify(s32, progress=False), ntkcert.certify(s64, progress=False)
    same_enclosures(r32.to_dict(), r64.to_dict())
    same_enclosures(r32.to_dict(), cli_certify(s32.to_toml(tmp_path)))
    assert np.load(tmp_path / "W1.npy").dtype == np.float32
    # The float32 value, not its decimal repr: float32(0.1) = 13421773 / 2**27.
    s = ntkcert.Spec.mlp(w, x, y, activation="tanh", alpha=np.float32(0.1), horizon=0.1, tolerance="0.01")
    assert 'alpha = "13421773/134217728"' in s.text
    assert 'horizon = "3602879701896397/36028797018963968"' in s.text
    assert Fraction(13421773, 134217728) == Fraction(float(np.float32(0.1)))
    # Fractions, ints and decimal strings pass through exactly.
    s = ntkcert.Spec.mlp(w, x, y, activation="tanh", alpha=Fraction(1, 3), horizon=5, tolerance="1e-3")
    assert 'alpha = "1/3"' in s.text and 'horizon = "5"' in s.text and 'tolerance = "1e-3"' in s.text


BAD = [
    # (what, overrides of the arguments, the field named)
    ("alpha = 0", dict(alpha=0), "alpha"),
    ("alpha < 0", dict(alpha=-1), "alpha"),
    ("alpha NaN", dict(alpha=float("nan")), "alpha"),
    ("tolerance < 0", dict(tolerance="-0.5"), "tolerance"),
    ("unknown activation", dict(activation="swish"), "model.activation"),
    ("alpha not a number", dict(alpha=[1]), "alpha"),
]


@pytest.mark.parametrize("what,overrides,field", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_raise_spec_error_naming_the_field(what, overrides, field):
    with pytest.raises(ntkcert.SpecError) as info:
        npy_spec(**overrides)
    e = info.value
    assert isinstance(e, ValueError)
    assert e.field == field, (e.field, str(e))
    assert f"field '{field}'" in str(e) and "\n" not in str(e)


def test_bad_arrays_raise_spec_error_naming_the_field():
    w, x, y = npy_example()
    cases = []
    bad = [a.copy() for a in w]
    bad[2] = np.ones((1, 7))  # W2 expects 8 inputs
    cases.append((bad, x, y, "weights[2]", "expected shape [*, 8]"))
    bad = [a.copy() for a in w]
    bad[1] = np.ones(3)  # b1 of the wrong length
    cases.append((bad, x, y, "weights[1]", "expected a bias of shape [8]"))
    bad = [a.copy() for a in w]
    bad[0][3, 1] = np.nan
    cases.append((bad, x, y, "weights[0]", "element [3, 1] is NaN"))
    xb = x.copy()
    xb[2, 0] = np.inf
    cases.append((w, xb, y, "inputs", "element [2, 0] is infinite"))
    cases.append((w, np.ones((5, 3)), y, "inputs", "expected shape [n, 2]"))
    cases.append((w, x, np.ones(4), "targets", "expected 5 numbers"))
    cases.append((w, x, ["1", "2"], "targets", "expected 5 numbers"))
    cases.append((w, x, [0.5, 0.25, "x", 1, 2], "data.targets[2]", "is not a decimal number"))
    cases.append((w, x, y.astype(np.complex128), "targets", "dtype complex128"))
    cases.append(({"fc1.weight": w[0], "fc1.gamma": w[1]}, x, y, "weights['fc1.gamma']", "PREFIX.weight"))
    cases.append(([np.zeros((0, 2))], x, y, "weights[0]", "nonzero dimensions"))
    cases.append((w, np.zeros((0, 2)), np.zeros(0), "data.inputs_file", "no inputs"))
    for weights, inputs, targets, field, words in cases:
        with pytest.raises(ntkcert.SpecError) as info:
            ntkcert.Spec.mlp(weights, inputs, targets, activation="tanh", alpha=20, horizon=5, tolerance="0.01")
        e = info.value
        assert e.field == field, (field, str(e))
        assert words in str(e), (words, str(e))
        assert "\n" not in str(e)


def test_spec_errors_carry_the_cli_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((EXAMPLES / "mlp-inline.toml").read_text().replace('activation = ["erf", "erf"]', 'activation = "swish"'))
    p = cli("certify", bad, check=False)
    assert p.returncode == 65
    with pytest.raises(ntkcert.SpecError) as info:
        ntkcert.Spec.from_toml(str(bad))
    assert p.stderr.strip() == f"error: {info.value}"
    assert info.value.kind == "invalid" and info.value.field == "model.activation"
    missing = tmp_path / "missing.toml"
    p = cli("certify", missing, check=False)
    assert p.returncode == 66
    with pytest.raises(ntkcert.SpecError) as info:
        ntkcert.Spec.from_toml(missing)
    assert p.stderr.strip() == f"error: {info.value}"
    assert info.value.kind == "io"


def test_a_certificate_written_from_python_checks_valid_with_the_cli(tmp_path):
    result = ntkcert.certify(npy_spec(), progress=False)
    cert = tmp_path / "cert.json"
    result.write_certificate(cert)
    p = cli("check", cert, "--quiet")
    assert (p.returncode, p.stdout.strip()) == (0, "valid"), p.stderr
    assert ntkcert.check(cert).valid
    # A false claim is refused by both.
    value = json.loads(cert.read_text())
    far = value["claims"]["sup_deviation"]["hi"] * 2 + 1e-3
    value["claims"]["sup_deviation"] = {"lo": far, "hi": far}
    cert.write_text(json.dumps(value))
    p = cli("check", cert, "--quiet")
    assert p.returncode == 1 and p.stdout.startswith("invalid: "), (p.returncode, p.stdout, p.stderr)
    c = ntkcert.check(cert)
    assert not c.valid and c.reason == p.stdout.strip()[len("invalid: "):]


def test_from_toml_path_text_and_results():
    spec = ntkcert.Spec.from_toml(EXAMPLES / "mlp-inline.toml")
    same = ntkcert.Spec.from_toml((EXAMPLES / "mlp-inline.toml").read_text())
    assert spec.spec_sha256 == same.spec_sha256
    r = ntkcert.certify(spec, progress=False)
    assert r.sup_deviation.lo <= r.sup_deviation.hi
    assert r.sup_deviation.width >= 0
    lo, hi = r.r0.as_fractions()
    assert lo <= hi and r.r0.contains(lo) and r.r0.contains(hi)
    assert not r.r0.contains(hi + Fraction(1, 10**30))
    assert len(r.outputs_final) == spec.num_outputs  # n * outputs
    assert r.outputs_final.contains(r.outputs_final.lo).all()
    assert not r.outputs_final.lo.flags.writeable
    sim = ntkcert.simulate(spec)
    assert sim
    b = ntkcert.bound(spec)
    assert isinstance(b, dict) and b


def test_interval_width_rounds_up():
    i = ntkcert.Interval(1.0, 1.0 + 2**-52 + 2**-40)
    assert Fraction(i.width) >= Fraction(i.hi) - Fraction(i.lo)
    j = ntkcert.Interval(-(2**-60), 1.0)  # 1 + 2^-60 rounds to 1 in f64
    assert j.width > 1.0
    a = ntkcert.IntervalArray(np.array([-(2**-60), 0.0]), np.array([1.0, 1.0]))
    assert a.width[0] > 1.0 and a.width[1] == 1.0


def test_read_results(tmp_path):
    f = tmp_path / "results.jsonl"
    f.write_text('{"key": "alpha=1", "verdict": "certified", "sup_deviation": {"lo": 0.1, "hi": 0.5}}\n{"key": "alpha=2", "verdict": "refuted", "sup_deviation": {"lo": 1, "hi": 2}}\n')
    rows = ntkcert.read_results(f)
    try:
        import pandas  # noqa: F401
    except ImportError:
        assert [r["verdict"] for r in rows] == ["certified", "refuted"]
        assert rows[0]["sup_deviation"]["hi"] == 0.5
    else:
        assert list(rows["verdict"]) == ["certified", "refuted"]
        assert list(rows["sup_deviation.hi"]) == [0.5, 2]
    with pytest.raises(ntkcert.SpecError):
        ntkcert.read_results(tmp_path / "none.jsonl")


def test_ctrl_c_interrupts_a_long_certify_without_a_certificate(tmp_path):
    script = f"""
import sys, ntkcert
print("start", flush=True)
try:
    r = ntkcert.certify({str(ROOT / 'specs' / 'bench' / 'gf-mlp-large.toml')!r}, accuracy="tight", progress=False)
    r.write_certificate({str(tmp_path / 'cert.json')!r})
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "start"
    time.sleep(1.0)
    started = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert out.strip() == "interrupted"
    assert time.monotonic() - started < 5
    assert not (tmp_path / "cert.json").exists()


def test_bad_options_raise_spec_error():
    spec = npy_spec()
    with pytest.raises(ntkcert.SpecError, match="order must be between 2 and 60, got 100") as info:
        ntkcert.certify(spec, order=100)
    assert info.value.kind == "usage"
    with pytest.raises(ntkcert.SpecError, match="accuracy"):
        ntkcert.certify(spec, accuracy="x")


def test_help_shows_the_docstrings():
    assert "exact binary number" in ntkcert.Spec.mlp.__doc__
    assert "GIL" in ntkcert.certify.__doc__
    assert issubclass(ntkcert.SpecError, ValueError)


def test_kernel_matches_the_cli():
    spec = npy_spec()
    ours = ntkcert.kernel(spec)
    theirs = json.loads(cli("kernel", EXAMPLES / "mlp-npy.toml", "--json").stdout)
    for k in ("lambda_min", "lambda_max", "ntk"):
        assert ours[k] == theirs[k], k


def test_a_panic_becomes_runtime_error_not_an_abort():
    with pytest.raises(RuntimeError, match="deliberate test panic"):
        ntkcert._native._panic_for_tests()
    assert ntkcert.Interval(0.0, 1.0).contains("0.5")  # the interpreter is still alive


def test_certify_releases_the_gil():
    import threading

    spec = ntkcert.Spec.from_toml(ROOT / "specs" / "bench" / "gf-mlp-capd-edge.toml")
    done = threading.Event()
    ticks = 0

    def run():
        ntkcert.certify(spec, progress=False)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    assert ticks >= 10, ticks  # this thread kept running Python while certify worked


def test_to_toml_of_a_spec_file_copies_its_data_files(tmp_path):
    spec = ntkcert.Spec.from_toml(EXAMPLES / "mlp-npy.toml")
    written = spec.to_toml(tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == sorted(
        ["mlp-npy-tanh.toml", "npy_W1.npy", "npy_b1.npy", "npy_W2.npy", "npy_b2.npy", "npy_x.npy", "npy_y.npy"]
    )
    same_enclosures(cli_certify(written), ntkcert.certify(spec, progress=False).to_dict())


@pytest.mark.parametrize(
    "training",
    [dict(method="gradient-descent", learning_rate="0.1"), dict(regularization="1/2"), dict(regularization="0.5", horizon="inf"), dict(reference_order=2)],
    ids=["gradient-descent", "regularised", "all-time", "order-2-model"],
)
def test_training_variants_through_python_and_the_cli(tmp_path, training):
    spec = npy_spec(**training)
    ours = ntkcert.certify(spec, progress=False)
    same_enclosures(ours.to_dict(), cli_certify(spec.to_toml(tmp_path)))
    cert = tmp_path / "cert.json"
    ours.write_certificate(cert)
    assert ntkcert.check(cert).valid


def test_memory_limit_refuses_before_allocating(tmp_path):
    """Issue 21: the loaders hold a spec to the command line's memory model (default: half the
    RAM). A width of 20 million with generated weights is refused in one line naming the field,
    quickly; max_memory takes bytes or a size; a bad size names max_memory; a small spec under
    a small enough limit is refused too, and loads under the default."""
    text = (EXAMPLES / "mlp-inline.toml").read_text()
    huge = """alpha = 10
horizon = 1
tolerance = "1e-3"
centred = true
[model]
kind = "mlp"
widths = [16, 20000000, 1]
activation = "tanh"
parameterization = "ntk"
bias = false
[weights]
source = "gf-mlp"
[data]
source = "gf-mlp"
n = 64
"""
    started = time.monotonic()
    with pytest.raises(ntkcert.SpecError, match="model.widths") as info:
        ntkcert.Spec.from_toml(huge)
    assert time.monotonic() - started < 5 and "\n" not in str(info.value)
    with pytest.raises(ntkcert.SpecError, match="memory"):
        ntkcert.Spec.from_toml(text, max_memory=1024)
    with pytest.raises(ntkcert.SpecError, match="memory"):
        npy_spec(max_memory="1K")
    with pytest.raises(ntkcert.SpecError, match="max_memory"):
        ntkcert.Spec.from_toml(text, max_memory="lots")
    with pytest.raises(ntkcert.SpecError, match="max_memory"):
        ntkcert.Spec.from_toml(text, max_memory=1.5)
    assert ntkcert.Spec.from_toml(text, max_memory="1G").num_outputs > 0
