"""ntkcert: prove, with outward-rounded interval arithmetic, when neural-network training follows
its NTK linearisation.

The Python face of the ntkcert library (the same code as the ``ntkcert`` command line)::

    import ntkcert
    spec = ntkcert.Spec.from_toml("specs/examples/mlp-npy.toml")      # or Spec.mlp(weights, ...)
    result = ntkcert.certify(spec)
    print(result.verdict, result.sup_deviation)                     # 'certified' [lo, hi]
    result.write_certificate("cert.json")
    assert ntkcert.check("cert.json").valid

Exactness: numbers are never rounded on the way in. Decimal strings and fractions are parsed
exactly; a Python float, a numpy float32 or float64 is taken as the exact binary number it
holds (0.1 is 3602879701896397/2**55, not 1/10: write "0.1" for one tenth). Results are
intervals with f64 endpoints, which Python floats hold exactly.

Errors: bad input raises :class:`SpecError` (a ``ValueError``) with the one-line message the
command line prints after ``error: ``, naming the file or argument, the field and the reason.
Long computations release the GIL; Ctrl-C raises ``KeyboardInterrupt`` (no partial result).
"""

from __future__ import annotations

import json as _json
import math as _math
import os as _os
from fractions import Fraction as _Fraction
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _native


def _numpy() -> Any:
    """numpy, imported on first use (``import ntkcert`` stays fast; numpy is imported by the
    first function that needs it)."""
    import numpy

    return numpy

__all__ = [
    "SpecError",
    "Interval",
    "IntervalArray",
    "Spec",
    "Result",
    "CheckResult",
    "certify",
    "simulate",
    "bound",
    "check",
    "kernel",
    "read_results",
    "tune_allocator",
]

__version__ = _native.version()

SpecError = _native.SpecError

Number = Union[str, int, _Fraction, float]
PathLike = Union[str, "_os.PathLike[str]"]


def _fraction(x: float) -> Optional[_Fraction]:
    return _Fraction(x) if _math.isfinite(x) else None


class Interval:
    """A closed interval [lo, hi] with f64 endpoints (exact Python floats).

    ``lo`` and ``hi`` are the exact endpoints the library proved (an infinite endpoint means
    unbounded on that side). ``x in interval`` and ``contains(x)`` compare exactly (a str or
    Fraction is not rounded). ``width`` is an upper bound on ``hi - lo`` (the float difference,
    raised by one ulp when it was rounded down); ``as_fractions()`` gives the endpoints as exact
    fractions.
    """

    __slots__ = ("lo", "hi")

    def __init__(self, lo: float, hi: float) -> None:
        self.lo = float(lo)
        self.hi = float(hi)

    def contains(self, x: Union[Number, "_np.floating[Any]"]) -> bool:
        """Whether lo <= x <= hi, exactly (x: float, int, Fraction or decimal str)."""
        q = _Fraction(x) if isinstance(x, (str, _Fraction, int)) else float(x)
        if isinstance(q, float) and not _math.isfinite(q):
            return (q == self.lo) or (q == self.hi) if _math.isinf(q) else False
        lo_ok = self.lo == -_math.inf or (self.lo != _math.inf and _Fraction(self.lo) <= q)
        hi_ok = self.hi == _math.inf or (self.hi != -_math.inf and q <= _Fraction(self.hi))
        return lo_ok and hi_ok

    __contains__ = contains

    @property
    def width(self) -> float:
        """An upper bound on hi - lo (exact when the float difference is exact)."""
        if not (_math.isfinite(self.lo) and _math.isfinite(self.hi)):
            return _math.inf
        d = self.hi - self.lo
        if _Fraction(d) < _Fraction(self.hi) - _Fraction(self.lo):
            d = _math.nextafter(d, _math.inf)
        return d

    def as_fractions(self) -> Tuple[Optional[_Fraction], Optional[_Fraction]]:
        """(lo, hi) as exact fractions; None for an infinite endpoint."""
        return _fraction(self.lo), _fraction(self.hi)

    def __iter__(self) -> Iterator[float]:
        return iter((self.lo, self.hi))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and (self.lo, self.hi) == (other.lo, other.hi)

    def __hash__(self) -> int:
        return hash((self.lo, self.hi))

    def __repr__(self) -> str:
        return f"Interval({self.lo!r}, {self.hi!r})"

    def __str__(self) -> str:
        return f"[{self.lo:.12e}, {self.hi:.12e}]"


def _two_diff_upper(hi: "_np.ndarray", lo: "_np.ndarray") -> "_np.ndarray":
    """hi - lo rounded up (TwoSum: raise the float difference by one ulp where it lost)."""
    _np = _numpy()
    with _np.errstate(invalid="ignore", over="ignore"):
        s = hi - lo
        bb = s - hi
        err = (hi - (s - bb)) + (-lo - bb)
        return _np.where(err > 0, _np.nextafter(s, _np.inf), s)


class IntervalArray:
    """A vector of intervals: ``lo`` and ``hi`` are read-only float64 numpy arrays.

    ``len(a)``, ``a[i]`` (an :class:`Interval`), iteration, ``a.contains(values)`` (elementwise,
    a bool array) and ``a.width`` (upper bounds on hi - lo).
    """

    __slots__ = ("lo", "hi")

    def __init__(self, lo: "_np.ndarray", hi: "_np.ndarray") -> None:
        self.lo = lo
        self.hi = hi

    def __len__(self) -> int:
        return len(self.lo)

    def __getitem__(self, i: int) -> Interval:
        return Interval(self.lo[i], self.hi[i])

    def __iter__(self) -> Iterator[Interval]:
        return (Interval(a, b) for a, b in zip(self.lo, self.hi))

    def contains(self, values: Any) -> "_np.ndarray":
        """Elementwise lo <= v <= hi for float values (exact comparisons of floats)."""
        _np = _numpy()
        v = _np.asarray(values, dtype=_np.float64)
        return (self.lo <= v) & (v <= self.hi)

    @property
    def width(self) -> "_np.ndarray":
        return _two_diff_upper(self.hi, self.lo)

    def __repr__(self) -> str:
        return "IntervalArray([" + ", ".join(repr(x) for x in self) + "])"


def _err(field: Optional[str], reason: str, file: Optional[str] = "Spec.mlp") -> SpecError:
    return _native.make_spec_error(file, field, reason)


def _exact(x: Any, field: str) -> str:
    """The exact spec text of a number (a float as its exact binary value, p/q)."""
    _np = _numpy()
    if isinstance(x, (bool, _np.bool_)):
        raise _err(field, f"expected a number, got {type(x).__name__}")
    if isinstance(x, str):
        return x.strip()
    if isinstance(x, (int, _np.integer)):
        return str(int(x))
    if isinstance(x, _Fraction):
        return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    if isinstance(x, (float, _np.floating)):
        f = float(x)  # exact for float16/32/64
        if _math.isnan(f):
            return "nan"
        if _math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return _exact(_Fraction(f), field)
    try:
        import decimal

        if isinstance(x, decimal.Decimal):
            return format(x, "f")
    except ImportError:  # pragma: no cover
        pass
    raise _err(field, f"expected str, int, fractions.Fraction or float, got {type(x).__name__}")


def _toml_str(s: str) -> str:
    return _json.dumps(s)


def _first_bad(a: "_np.ndarray") -> Optional[str]:
    """'element [i, j] is NaN' (or infinite) for the first non-finite element, else None."""
    _np = _numpy()
    if a.dtype.kind not in "fc":
        return None
    bad = ~_np.isfinite(a)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in _np.argwhere(bad)[0])
    what = "NaN" if _np.isnan(a[idx]) else "infinite"
    return f"element [{', '.join(map(str, idx))}] is {what}"


def _check_array(a: Any, field: str) -> "_np.ndarray":
    _np = _numpy()
    arr = a if isinstance(a, _np.ndarray) else _np.asarray(a)
    if arr.dtype.kind not in "fiu" or arr.dtype.itemsize > 8:
        raise _err(field, f"expected a float16/32/64 or integer array, got dtype {arr.dtype}")
    bad = _first_bad(arr)
    if bad:
        raise _err(field, bad)
    return arr


def _npy_bytes(a: "_np.ndarray") -> bytes:
    _np = _numpy()
    import io

    buf = io.BytesIO()
    _np.save(buf, _np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _layers(weights: Any) -> List[Tuple[str, "_np.ndarray", Optional[Tuple[str, "_np.ndarray"]]]]:
    """[(field, W, (field, b) or None)] in layer order, from a list or a state dict."""
    _np = _numpy()
    layers: List[Tuple[str, Any, Optional[Tuple[str, Any]]]] = []
    if isinstance(weights, dict):
        prefixes: List[str] = []
        for key in weights:
            if not isinstance(key, str) or "." not in key:
                raise _err(f"weights[{key!r}]", "expected state-dict names PREFIX.weight and PREFIX.bias")
            prefix, leaf = key.rsplit(".", 1)
            if leaf not in ("weight", "bias"):
                raise _err(f"weights[{key!r}]", "expected state-dict names PREFIX.weight and PREFIX.bias")
            if prefix not in prefixes:
                prefixes.append(prefix)
        for prefix in prefixes:
            wk, bk = f"{prefix}.weight", f"{prefix}.bias"
            if wk not in weights:
                raise _err(f"weights[{bk!r}]", f"a bias without a weight '{wk}'")
            w = _check_array(weights[wk], f"weights[{wk!r}]")
            b = (f"weights[{bk!r}]", _check_array(weights[bk], f"weights[{bk!r}]")) if bk in weights else None
            layers.append((f"weights[{wk!r}]", w, b))
    elif isinstance(weights, (list, tuple)):
        i = 0
        while i < len(weights):
            field = f"weights[{i}]"
            w = _check_array(weights[i], field)
            if w.ndim != 2:
                raise _err(field, f"expected a weight matrix [out, in], got shape {list(w.shape)}")
            b = None
            if i + 1 < len(weights):
                nxt = _np.asarray(weights[i + 1])
                if nxt.ndim == 1:
                    b = (f"weights[{i + 1}]", _check_array(weights[i + 1], f"weights[{i + 1}]"))
                    i += 1
            layers.append((field, w, b))
            i += 1
    else:
        raise _err("weights", f"expected a list of arrays in layer order or a state dict, got {type(weights).__name__}")
    if not layers:
        raise _err("weights", "no layers")
    return layers


def _number_rows(values: Any, field: str, cols: Optional[int]) -> List[List[str]]:
    _np = _numpy()
    rows = list(values)
    out = []
    for i, row in enumerate(rows):
        if isinstance(row, (list, tuple, _np.ndarray)):
            out.append([_exact(x, f"{field}[{i}][{j}]") for j, x in enumerate(row)])
        else:
            out.append([_exact(row, f"{field}[{i}]")])
    if cols is not None:
        for i, r in enumerate(out):
            if len(r) != cols:
                raise _err(f"{field}[{i}]", f"expected {cols} numbers (widths[0]), got {len(r)}")
    return out


def _memory_argument(max_memory: Union[int, str, None]) -> Optional[str]:
    """``max_memory`` as the size text the native loader parses (None: the default)."""
    if max_memory is None:
        return None
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, str)):
        raise _err("max_memory", f"expected bytes (an int) or a size such as '8G', got {type(max_memory).__name__}", None)
    return str(max_memory)


class Spec:
    """A certification problem: a spec, read, validated and resolved.

    Build one with :meth:`Spec.from_toml` (a spec file or its text, the format of
    specs/README.md) or :meth:`Spec.mlp` (numpy weights and data). Both validate at once and
    raise :class:`SpecError`. ``to_toml(dir)`` writes a spec file (and its data files) that the
    command line certifies identically.
    """

    def __init__(self, native: Any, files: Optional[Dict[str, bytes]] = None) -> None:
        self._native = native
        # For Spec.mlp: the data files the text references, by relative name.
        self._files = files

    @classmethod
    def from_toml(cls, path_or_text: PathLike, *, max_memory: Union[int, str, None] = None) -> "Spec":
        """Loads a spec file (a path, e.g. "specs/examples/mlp-npy.toml") or spec text.

        A str that contains a newline or '=' is taken as TOML text (relative data paths then
        resolve against the current directory); otherwise it is a path.

        max_memory: bytes (an int) or a size such as "8G" or "500M"; a spec whose estimated
        run (the command line's ``--max-memory`` model) needs more is refused with SpecError
        before its arrays are allocated. Default: half of this machine's RAM.
        """
        limit = _memory_argument(max_memory)
        if isinstance(path_or_text, _os.PathLike) or (
            isinstance(path_or_text, str) and "\n" not in path_or_text and "=" not in path_or_text
        ):
            return cls(_native.load_path(_os.fspath(path_or_text), limit))
        if not isinstance(path_or_text, str):
            raise _err(None, f"expected a path or TOML text, got {type(path_or_text).__name__}", "Spec.from_toml")
        return cls(_native.load_text(path_or_text, _os.getcwd(), "<toml text>", limit))

    @classmethod
    def mlp(
        cls,
        weights: Any,
        inputs: Any,
        targets: Any,
        *,
        activation: Union[str, Sequence[str], None] = None,
        parameterization: str = "ntk",
        bias: Optional[bool] = None,
        alpha: Number,
        horizon: Number,
        tolerance: Number,
        centred: bool = True,
        name: str = "mlp",
        regularization: Optional[Number] = None,
        method: Optional[str] = None,
        learning_rate: Optional[Number] = None,
        reference_order: Optional[int] = None,
        order: Optional[int] = None,
        max_steps: Optional[int] = None,
        accuracy: Optional[str] = None,
        max_memory: Union[int, str, None] = None,
    ) -> "Spec":
        """A multilayer perceptron spec from numpy weights and data (``[model] kind = "mlp"``).

        weights: a list of arrays in layer order (``W1, b1, W2, b2, ...`` or ``W1, W2, ...``;
            each weight ``[out, in]`` as in PyTorch, each bias ``[out]`` right after its weight),
            or a state dict ``{name: array}`` with names ``PREFIX.weight`` / ``PREFIX.bias``
            in layer order (as ``safetensors.numpy.load_file`` or
            ``{k: v.detach().numpy() for k, v in model.state_dict().items()}`` gives).
            The widths are read from the shapes.
        inputs: ``[n, d]`` array (``[n]`` when d = 1), or nested lists of numbers.
        targets: ``[n]`` / ``[n, outputs]`` array, or a list of numbers.
        activation: one name for every hidden layer or one per hidden layer (tanh, erf,
            sigmoid, softplus, sin, gelu, identity).
        parameterization: "ntk" (default) or "standard". bias: whether the layers have biases
            (default: as the weights say).
        alpha, horizon, tolerance (and regularization, learning_rate): a str holding a decimal
            or fraction ("0.1", "1/3", "1e-3"), an int, a fractions.Fraction, or a float.
            **A float is taken as the exact binary number it holds**: 0.1 means
            3602879701896397/2**55; pass "0.1" for one tenth. horizon may be "inf" (with
            regularization > 0).
        reference_order: Q of the reference model (``[training] reference_order``): 1 (the
            default) is the NTK linearisation, 2..4 the order-Q Taylor model around the initial
            weights, trained by its own gradient flow.
        max_memory: as in :meth:`from_toml`.

        Arrays of dtype float16/32/64 or integers are taken exactly (the binary values they
        hold, no conversion). Raises SpecError at once for bad shapes, NaN or infinite entries,
        alpha <= 0, an unknown activation, and everything else the spec format refuses; the
        message names the argument or spec field.
        """
        _np = _numpy()
        layers = _layers(weights)
        widths = [int(layers[0][1].shape[1])]
        has_bias = [b is not None for _, _, b in layers]
        if bias is None:
            bias = has_bias[0]
        for (field, w, b), hb in zip(layers, has_bias):
            if w.ndim != 2:
                raise _err(field, f"expected a weight matrix [out, in], got shape {list(w.shape)}")
            if 0 in w.shape:
                raise _err(field, f"expected a weight matrix with nonzero dimensions, got shape {list(w.shape)}")
            if w.shape[1] != widths[-1]:
                raise _err(field, f"expected shape [*, {widths[-1]}] (the previous layer has {widths[-1]} outputs), got {list(w.shape)}")
            if hb != bias:
                what = "has no bias" if bias else "has a bias, but bias=False"
                raise _err(field, f"this layer {what} (every layer must have one, or none)")
            if b is not None and (b[1].ndim != 1 or b[1].shape[0] != w.shape[0]):
                raise _err(b[0], f"expected a bias of shape [{w.shape[0]}], got {list(b[1].shape)}")
            widths.append(int(w.shape[0]))
        files: Dict[str, bytes] = {}
        names: List[str] = []
        for i, (_, w, b) in enumerate(layers, start=1):
            files[f"W{i}.npy"] = _npy_bytes(w)
            names.append(f"W{i}.npy")
            if b is not None:
                files[f"b{i}.npy"] = _npy_bytes(b[1])
                names.append(f"b{i}.npy")
        lines = [
            f"name = {_toml_str(name)}",
            f"alpha = {_toml_str(_exact(alpha, 'alpha'))}",
            f"horizon = {_toml_str(_exact(horizon, 'horizon'))}",
            f"tolerance = {_toml_str(_exact(tolerance, 'tolerance'))}",
            f"centred = {'true' if centred else 'false'}",
            "",
            "[model]",
            'kind = "mlp"',
            f"widths = [{', '.join(map(str, widths))}]",
        ]
        if activation is not None:
            if isinstance(activation, str):
                lines.append(f"activation = {_toml_str(activation)}")
            else:
                lines.append(f"activation = [{', '.join(_toml_str(str(a)) for a in activation)}]")
        lines += [
            f"parameterization = {_toml_str(parameterization)}",
            f"bias = {'true' if bias else 'false'}",
            "",
            "[weights]",
            'source = "npy"',
            f"files = [{', '.join(_toml_str(n) for n in names)}]",
            "",
            "[data]",
        ]
        d = widths[0]
        if isinstance(inputs, _np.ndarray):
            x = _check_array(inputs, "inputs")
            if x.ndim == 1 and d == 1:
                x = x.reshape(-1, 1)
            if x.ndim != 2 or x.shape[1] != d:
                raise _err("inputs", f"expected shape [n, {d}] (widths[0] = {d}), got {list(inputs.shape)}")
            files["inputs.npy"] = _npy_bytes(x)
            lines.append('inputs_file = "inputs.npy"')
        else:
            rows = _number_rows(inputs, "inputs", d)
            lines.append("inputs = [" + ", ".join("[" + ", ".join(_toml_str(v) for v in r) + "]" for r in rows) + "]")
        n = x.shape[0] if isinstance(inputs, _np.ndarray) else len(rows)
        expected = n * widths[-1]
        if isinstance(targets, _np.ndarray):
            y = _check_array(targets, "targets")
            if y.size != expected:
                raise _err("targets", f"expected {expected} numbers ({n} inputs x {widths[-1]} outputs), got shape {list(y.shape)}")
            files["targets.npy"] = _npy_bytes(y)
            lines.append('targets_file = "targets.npy"')
        else:
            flat = [v for r in _number_rows(targets, "targets", None) for v in r]
            if len(flat) != expected:
                raise _err("targets", f"expected {expected} numbers ({n} inputs x {widths[-1]} outputs), got {len(flat)}")
            lines.append("targets = [" + ", ".join(_toml_str(v) for v in flat) + "]")
        training = []
        if regularization is not None:
            training.append(f"regularization = {_toml_str(_exact(regularization, 'regularization'))}")
        if method is not None:
            training.append(f"method = {_toml_str(method)}")
        if learning_rate is not None:
            training.append(f"learning_rate = {_toml_str(_exact(learning_rate, 'learning_rate'))}")
        if reference_order is not None:
            training.append(f"reference_order = {int(reference_order)}")
        if training:
            lines += ["", "[training]"] + training
        solver = []
        if order is not None:
            solver.append(f"order = {int(order)}")
        if max_steps is not None:
            solver.append(f"max_steps = {int(max_steps)}")
        if accuracy is not None:
            solver.append(f"accuracy = {_toml_str(str(accuracy))}")
        if solver:
            lines += ["", "[solver]"] + solver
        text = "\n".join(lines) + "\n"
        import tempfile

        with tempfile.TemporaryDirectory(prefix="ntkcert-") as tmp:
            for fname, data in files.items():
                with open(_os.path.join(tmp, fname), "wb") as f:
                    f.write(data)
            native = _native.load_text(text, tmp, "Spec.mlp", _memory_argument(max_memory))
        return cls(native, files)

    @property
    def name(self) -> str:
        """The problem's name."""
        return self._native.name

    @property
    def path(self) -> Optional[str]:
        """The spec file it was loaded from (None for Spec.mlp and TOML text)."""
        return self._native.path

    @property
    def text(self) -> str:
        """The spec's TOML text."""
        return self._native.text

    @property
    def spec_sha256(self) -> str:
        """SHA-256 of the spec's canonical form (the one certificates record)."""
        return self._native.spec_sha256

    @property
    def num_params(self) -> int:
        return self._native.num_params

    @property
    def num_inputs(self) -> int:
        return self._native.num_inputs

    @property
    def num_outputs(self) -> int:
        return self._native.num_outputs

    def to_toml(self, dir: PathLike, filename: Optional[str] = None) -> str:
        """Writes the spec (``NAME.toml``) and its data files into directory ``dir`` (created
        if needed); returns the spec file's path. ``ntkcert certify`` on it gives the same
        result as :func:`certify` on this Spec (same text, same data bytes, same hash)."""
        import shutil

        d = _os.fspath(dir)
        _os.makedirs(d, exist_ok=True)
        if self._files is not None:
            for fname, data in self._files.items():
                with open(_os.path.join(d, fname), "wb") as f:
                    f.write(data)
        else:
            for field, written, resolved, _sha in self._native.data_files:
                if _os.path.isabs(written):
                    continue
                if ".." in written.replace("\\", "/").split("/"):
                    raise _err(field, f"cannot copy '{written}' into {d} (a path outside the spec's directory)", self._native.label)
                target = _os.path.join(d, written)
                _os.makedirs(_os.path.dirname(target) or d, exist_ok=True)
                if _os.path.abspath(resolved) != _os.path.abspath(target):
                    shutil.copyfile(resolved, target)
        path = _os.path.join(d, filename or f"{self.name}.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.text)
        return path

    def __repr__(self) -> str:
        return f"<ntkcert.Spec {self.name!r}: p={self.num_params}, n={self.num_inputs}, outputs={self.num_outputs}>"


class Result:
    """What :func:`certify` proved.

    verdict: "certified" (sup_{t<=T} D(t) <= eps), "refuted" (> eps) or "inconclusive";
    reason: why, when not certified (else None). sup_deviation, final_deviation, r0:
    :class:`Interval`; outputs_final (alpha g(w(T))), linear_outputs_final:
    :class:`IntervalArray` (numpy ``.lo`` / ``.hi``). steps, seconds, order: the integration.
    """

    def __init__(self, native: Any, spec: Spec) -> None:
        self._native = native
        self.spec = spec
        self.verdict: str = native.verdict
        self.reason: Optional[str] = native.reason
        self.sup_deviation = Interval(*native.sup_deviation)
        self.final_deviation = Interval(*native.final_deviation)
        self.r0 = Interval(*native.r0)
        self.outputs_final = IntervalArray(*native.outputs_final)
        self.linear_outputs_final = IntervalArray(*native.linear_outputs_final)
        self.steps: int = native.steps
        self.seconds: float = native.seconds
        # Wall time of the library's certify() call (seconds excludes its set-up at t = 0).
        self.call_seconds: float = native.call_seconds
        self.order: int = native.order

    @property
    def certified(self) -> bool:
        return self.verdict == "certified"

    def to_dict(self) -> Dict[str, Any]:
        """The object ``ntkcert certify --json`` prints (endpoints as floats, None if infinite)."""
        return _json.loads(self._native.to_json())

    def summary(self) -> str:
        """The readable summary ``ntkcert certify`` prints."""
        return self._native.to_text()

    def write_certificate(self, path: PathLike) -> str:
        """Writes the certificate (JSON, atomically) that ``ntkcert check`` re-verifies.

        A spec loaded from a file is recorded by that path (as given, like the command line).
        Otherwise the spec and its data files are first written beside the certificate, into
        ``PATH.spec/``, and recorded relative to the certificate. Returns the spec path
        recorded."""
        p = _os.fspath(path)
        spec_path = self.spec.path
        if spec_path is None:
            spec_dir = p + ".spec"
            written = self.spec.to_toml(spec_dir)
            spec_path = _os.path.relpath(written, _os.path.dirname(_os.path.abspath(p)))
        self._native.write_certificate(p, spec_path)
        return spec_path

    def __repr__(self) -> str:
        return f"<ntkcert.Result {self.verdict}: sup D in {self.sup_deviation}>"


class CheckResult:
    """The outcome of :func:`check`: ``valid`` (bool) and, when invalid, ``reason``."""

    __slots__ = ("valid", "reason")

    def __init__(self, valid: bool, reason: Optional[str]) -> None:
        self.valid = valid
        self.reason = reason

    def __bool__(self) -> bool:
        return self.valid

    def __repr__(self) -> str:
        return "valid" if self.valid else f"invalid: {self.reason}"


def _spec(spec: Union[Spec, PathLike]) -> Spec:
    return spec if isinstance(spec, Spec) else Spec.from_toml(spec)


def certify(
    spec: Union[Spec, PathLike],
    *,
    order: Optional[int] = None,
    accuracy: Optional[str] = None,
    progress: bool = True,
) -> Result:
    """Proves whether sup_{t<=T} D(t) <= eps for the spec (``ntkcert certify``).

    spec: a :class:`Spec` or a spec file's path. order: the Taylor order (2..60; default the
    spec's [solver] order, else 16). accuracy: "tight" or a relative width such as "1e-4".
    progress: a progress bar on stderr (drawn only on a terminal). Releases the GIL; Ctrl-C
    raises KeyboardInterrupt and gives no result."""
    s = _spec(spec)
    return Result(_native.certify(s._native, order, accuracy, progress), s)


def simulate(spec: Union[Spec, PathLike], *, order: Optional[int] = None, accuracy: Optional[str] = None) -> Dict[str, Any]:
    """The same flows in plain f64, not rigorous (``ntkcert simulate --json``), as a dict."""
    s = _spec(spec)
    return _json.loads(_native.simulate(s._native, order, accuracy))


def bound(spec: Union[Spec, PathLike]) -> Dict[str, Any]:
    """The certified theory bounds of sup D and their constants (``ntkcert bound --json``)."""
    s = _spec(spec)
    return _json.loads(_native.bound(s._native))


def kernel(spec: Union[Spec, PathLike], *, limit: bool = False) -> Dict[str, Any]:
    """The empirical NTK K0 = J(w0) J(w0)^T of the spec's MLP (with ``limit=True``, the
    infinite-width NTK and NNGP kernel), enclosed, with certified lambda_min and lambda_max:
    what ``ntkcert kernel SPEC --json`` prints, as a dict. spec: a spec file's path (relu is
    accepted there) or a :class:`Spec`."""
    if isinstance(spec, Spec):
        if spec.path is None:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="ntkcert-") as tmp:
                return _json.loads(_native.kernel(spec.to_toml(tmp), limit))
        spec = spec.path
    return _json.loads(_native.kernel(_os.fspath(spec), limit))


def check(path: PathLike, *, spec: Optional[PathLike] = None, progress: bool = False) -> CheckResult:
    """Re-verifies a certificate independently (``ntkcert check``): MPFR ball arithmetic and
    its own integrator. spec: the spec file (default: the certificate's spec.path). Raises
    SpecError when the certificate or spec cannot be read or is malformed."""
    valid, reason = _native.check(_os.fspath(path), None if spec is None else _os.fspath(spec), progress)
    return CheckResult(valid, reason)


def tune_allocator() -> None:
    """Applies the glibc malloc settings the command line uses for ``certify`` (no trimming
    below 1 GiB, a 32 MiB mmap threshold, one arena; a no-op off glibc). They make the
    integrator's large allocations cheaper (gf-mlp-mid about 1.5x faster) but hold on to freed
    memory and apply to the whole process, so they are opt-in: call once, before starting
    threads, in a process that mainly certifies."""
    _native.tune_allocator()


def read_results(path: PathLike) -> Any:
    """The results file of ``ntkcert sweep`` (one JSON object per line) as a pandas DataFrame
    when pandas is installed (nested objects flattened: an interval ``sup_deviation`` becomes
    the columns ``sup_deviation.lo`` and ``sup_deviation.hi``, exact floats), else as a list
    of dicts."""
    rows = []
    p = _os.fspath(path)
    try:
        with open(p, encoding="utf-8") as f:
            for i, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append(_json.loads(line))
                    except ValueError as e:
                        raise _native.make_spec_error(p, None, f"line {i}: invalid JSON ({e})") from None
    except OSError as e:
        raise _native.make_spec_error(p, None, f"cannot read results: {e.strerror}", "io") from None
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.json_normalize(rows)
