#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into DIR/<target>/ (fuzz/README.md).

    python3 fuzz/make_seeds.py DIR

Standard library only. The seeds are small valid inputs; the committed corpus (fuzz/corpus/)
was grown from them by libFuzzer and minimised with `cargo fuzz cmin`.

- spec: every spec of the repository (specs/, tests/), as text.
- spec_files: a spec and its data files in the format of `harness::split_files`
  (spec text, then `\\n%%FILE NAME\\n` and the bytes of each file): the .npy, .csv and
  .safetensors examples, and variants (float32, big-endian, Fortran order, CSV without header,
  F32 safetensors, shapes off by one).
- certificate: the tiny certificates (fuzz/specs/*.cert.json) with `spec.path` naming the spec
  beside them.
- check: the inputs of `harness::mutate` (a seed index, then operations).
"""

import glob
import json
import math
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEP = b"\n%%FILE "


def npy(values, shape, descr="<f8", fortran=False):
    """A version-1.0 .npy file (values flat, in C order unless `fortran`)."""
    fmt = {"<f8": "<d", "<f4": "<f", ">f8": ">d", ">f4": ">f", "<i8": "<q"}[descr]
    shape_txt = "(%d,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(str(s) for s in shape)
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_txt)
    header += " " * ((-(10 + len(header) + 1)) % 64) + "\n"
    if fortran and len(shape) == 2:
        r, c = shape
        values = [values[i * c + j] for j in range(c) for i in range(r)]
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + b"".join(struct.pack(fmt, int(v * 4) if fmt[1] == "q" else v) for v in values)


def safetensors(tensors, dtype="F64"):
    """A .safetensors file with the named tensors (name, shape, values) in this order."""
    fmt = {"F64": "<d", "F32": "<f"}[dtype]
    header, data = {}, b""
    for name, shape, values in tensors:
        raw = b"".join(struct.pack(fmt, int(v * 4) if fmt[1] == "q" else v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def bundle(spec, files):
    out = spec.encode()
    for name, data in files:
        out += SEP + name.encode() + b"\n" + data
    return out


def vals(n, k=1):
    return [round(math.sin(k + 1.7 * i), 6) for i in range(n)]


MLP = """name = "fuzz"
alpha = 4
horizon = "1/2"
tolerance = "0.05"

[model]
kind = "mlp"
widths = [2, 3, 1]
activation = "tanh"
bias = %s
"""


def spec_files_seeds():
    seeds = {}
    ex = os.path.join(ROOT, "specs", "examples")
    for spec, names in [
        ("mlp-npy.toml", ["npy_W1.npy", "npy_b1.npy", "npy_W2.npy", "npy_b2.npy", "npy_x.npy", "npy_y.npy"]),
        ("mlp-csv.toml", ["csv_inputs.csv", "csv_targets.csv"]),
        ("mlp-safetensors.toml", ["model.safetensors"]),
    ]:
        files = [(n, open(os.path.join(ex, n), "rb").read()) for n in names]
        seeds["example-" + spec.replace(".toml", "")] = bundle(open(os.path.join(ex, spec)).read(), files)
    npy_spec = MLP % "true" + '\n[weights]\nsource = "npy"\nfiles = ["W1.npy", "b1.npy", "W2.npy", "b2.npy"]\n\n[data]\ninputs_file = "x.npy"\ntargets_file = "y.npy"\n'
    for descr in ["<f8", "<f4", ">f8", ">f4", "<i8"]:
        files = [("W1.npy", npy(vals(6), [3, 2], descr)), ("b1.npy", npy(vals(3, 2), [3], descr)), ("W2.npy", npy(vals(3, 3), [1, 3], descr)),
                 ("b2.npy", npy(vals(1, 4), [1], descr)), ("x.npy", npy(vals(4, 5), [2, 2], descr)), ("y.npy", npy(vals(2, 6), [2, 1], descr))]
        seeds["npy-" + descr.replace("<", "le").replace(">", "be")] = bundle(npy_spec, files)
    files = [("W1.npy", npy(vals(6), [3, 2], fortran=True)), ("b1.npy", npy(vals(3, 2), [3])), ("W2.npy", npy(vals(3, 3), [1, 3])),
             ("b2.npy", npy(vals(1, 4), [1])), ("x.npy", npy(vals(4, 5), [2, 2], fortran=True)), ("y.npy", npy(vals(2, 6), [2]))]
    seeds["npy-fortran"] = bundle(npy_spec, files)
    files = [("W1.npy", npy(vals(4), [2, 2])), ("b1.npy", npy(vals(3, 2), [3])), ("W2.npy", npy(vals(3, 3), [3])),
             ("b2.npy", npy([], [0])), ("x.npy", npy(vals(6, 5), [3, 2])), ("y.npy", npy(vals(2, 6), [2]))]
    seeds["npy-shapes-off"] = bundle(npy_spec, files)
    csv_spec = MLP % "false" + '\n[weights]\nsource = "inline"\nvalues = ["0.5", "-0.25", "0.125", "1", "-1", "0.75", "0.3", "-0.2", "0.1"]\n\n[data]\ninputs_file = "x.csv"\ntargets_file = "y.csv"\n'
    seeds["csv-header"] = bundle(csv_spec, [("x.csv", b"a,b\n0.1,0.2\n-1.5e-3,7/3\n"), ("y.csv", b"y\n0.5\n-0.25\n")])
    seeds["csv-plain"] = bundle(csv_spec, [("x.csv", b"0.1,0.2\r\n-1,3\r\n"), ("y.csv", b"0.5\n-0.25")])
    seeds["csv-ragged"] = bundle(csv_spec, [("x.csv", b"0.1,0.2,0.3\n-1\n\"2\",nan\n"), ("y.csv", b"1e400\n")])
    st_spec = MLP % "true" + '\n[weights]\nsource = "safetensors"\nfile = "m.safetensors"\ntensors = ["a.weight", "a.bias", "b.weight", "b.bias"]\n\n[data]\ninputs = [["0.5", "1"], ["-1", "0.25"]]\ntargets = ["0.25", "-0.5"]\n'
    for dtype in ["F64", "F32"]:
        t = [("a.weight", [3, 2], vals(6)), ("a.bias", [3], vals(3, 2)), ("b.weight", [1, 3], vals(3, 3)), ("b.bias", [1], vals(1, 4))]
        seeds["safetensors-" + dtype] = bundle(st_spec, [("m.safetensors", safetensors(t, dtype))])
    t = [("a.weight", [2, 3], vals(6)), ("a.bias", [3], vals(3, 2)), ("b.weight", [3], vals(3, 3))]
    seeds["safetensors-shapes-off"] = bundle(st_spec, [("m.safetensors", safetensors(t))])
    return seeds


def main():
    out = sys.argv[1]
    for t in ["spec", "spec_files", "certificate", "check"]:
        os.makedirs(os.path.join(out, t), exist_ok=True)
    specs = sorted(glob.glob(os.path.join(ROOT, "specs", "**", "*.toml"), recursive=True) + glob.glob(os.path.join(ROOT, "tests", "**", "*.toml"), recursive=True))
    for path in specs:
        name = os.path.relpath(path, ROOT).replace("/", "_")
        with open(path, "rb") as f, open(os.path.join(out, "spec", name), "wb") as g:
            g.write(f.read())
    for name, data in spec_files_seeds().items():
        with open(os.path.join(out, "spec_files", name), "wb") as g:
            g.write(data)
    for i, path in enumerate(sorted(glob.glob(os.path.join(ROOT, "fuzz", "specs", "*.cert.json")))):
        cert = json.load(open(path))
        spec = os.path.basename(path).replace(".cert.json", ".toml")
        cert["spec"]["path"] = spec
        cert["spec"]["path_from_certificate"] = spec
        with open(os.path.join(out, "certificate", os.path.basename(path)), "w") as g:
            json.dump(cert, g, indent=1)
    # check: each seed untouched, then one operation of each kind on it.
    for seed in range(4):
        with open(os.path.join(out, "check", "seed-%d" % seed), "wb") as g:
            g.write(bytes([seed]))
        for op in range(12):
            with open(os.path.join(out, "check", "seed-%d-op-%d" % (seed, op)), "wb") as g:
                g.write(bytes([seed, op, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0]))


if __name__ == "__main__":
    main()
