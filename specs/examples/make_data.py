#!/usr/bin/env python3
"""Writes the small binary and CSV data files used by the example specs in this folder.

Standard library only (no numpy): .npy files are written by hand (format version 1.0,
little-endian, C order) and .safetensors files too (8-byte little-endian header length, JSON
header, raw little-endian bytes). The values come from fixed formulas, so running the script
again reproduces the files byte for byte:

    python3 specs/examples/make_data.py
"""

import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def npy_bytes(values, shape, dtype="<f8"):
    """A version-1.0 .npy file holding `values` (flat, C order) with the given shape."""
    fmt = {"<f8": "<d", "<f4": "<f"}[dtype]
    assert len(values) == math.prod(shape)
    shape_txt = "(%d,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(str(s) for s in shape)
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, shape_txt)
    # magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
    header += " " * ((-(10 + len(header) + 1)) % 64) + "\n"
    out = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")
    return out + b"".join(struct.pack(fmt, v) for v in values)


def safetensors_bytes(tensors):
    """tensors: list of (name, dtype 'F32'|'F64', shape, flat values)."""
    fmt = {"F32": "<f", "F64": "<d"}
    header, data = {}, b""
    for name, dtype, shape, values in tensors:
        assert len(values) == math.prod(shape)
        raw = b"".join(struct.pack(fmt[dtype], v) for v in values)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    header["__metadata__"] = {"format": "pt", "source": "specs/examples/make_data.py"}
    text = json.dumps(header, sort_keys=True, separators=(",", ":"))
    text += " " * ((-len(text)) % 8)  # align the data to 8 bytes, as the reference writer does
    return struct.pack("<Q", len(text)) + text.encode("utf-8") + data


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(HERE, name), mode) as f:
        f.write(data)


def value(a, b):
    """A fixed pseudo-random number in (-1, 1)."""
    return math.sin(1.7 * a + 0.3 * b * b + 0.5)


def main():
    # mlp-npy.toml: widths [2, 8, 1], tanh, bias; weights as one .npy per tensor.
    d, m, n = 2, 8, 5
    write("npy_W1.npy", npy_bytes([value(j, k) for j in range(m) for k in range(d)], [m, d]))
    write("npy_b1.npy", npy_bytes([0.1 * value(j, 7) for j in range(m)], [m]))
    # float32 tensors are read exactly too (every f32 is an exact binary number).
    write("npy_W2.npy", npy_bytes([value(11, j) for j in range(m)], [1, m], "<f4"))
    write("npy_b2.npy", npy_bytes([0.0], [1]))
    write("npy_x.npy", npy_bytes([value(20 + i, k) for i in range(n) for k in range(d)], [n, d]))
    write("npy_y.npy", npy_bytes([0.5 * value(30 + i, 1) for i in range(n)], [n]))

    # mlp-safetensors.toml: widths [3, 6, 1], sigmoid, bias; PyTorch-style names, float32.
    d, m = 3, 6
    write(
        "model.safetensors",
        safetensors_bytes(
            [
                ("fc1.weight", "F32", [m, d], [value(40 + j, k) for j in range(m) for k in range(d)]),
                ("fc1.bias", "F32", [m], [0.2 * value(50 + j, 0) for j in range(m)]),
                ("fc2.weight", "F32", [1, m], [value(60, j) for j in range(m)]),
                ("fc2.bias", "F32", [1], [0.25]),
            ]
        ),
    )

    # mlp-csv.toml: decimal data in CSV files with a header line.
    rows = [(round(value(70 + i, 0), 4), round(value(70 + i, 1), 4)) for i in range(6)]
    write("csv_inputs.csv", "x1,x2\n" + "".join("%s,%s\n" % r for r in rows))
    write("csv_targets.csv", "y\n" + "".join("%s\n" % round(0.5 * value(80 + i, 2), 3) for i in range(6)))


if __name__ == "__main__":
    main()
