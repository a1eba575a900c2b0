"""The Python call overhead against certify's own time, side by side with the CLI, in one run.

    python python/benches/overhead.py [SPEC ...] [--repeat N]

For each spec (default specs/bench/gf-mlp-small.toml), interleaved N times (minimum reported):
- cli wall: `ntkcert certify SPEC --json --quiet` as a process (start-up included), and the
  `seconds` it reports (certify alone);
- python: `ntkcert.certify(spec)` wall time in this process (the spec loaded once before, as
  the CLI loads it once), and the wall time of the library's certify() call inside it
  (`result.call_seconds`, measured on the worker thread; the reported `seconds` leave out the
  enclosures at t = 0). overhead = python wall - call seconds (option handling, the worker
  thread, the GIL hand-offs, building the Result), as a share of the call.
- load: `Spec.from_toml(SPEC)` (the CLI does the same work before certifying).
"""

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

t0 = time.perf_counter()
import ntkcert  # noqa: E402

import_seconds = time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("specs", nargs="*", default=[str(ROOT / "specs/bench/gf-mlp-small.toml")])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tune-allocator", action="store_true", help="ntkcert.tune_allocator() first (as the CLI does)")
    ap.add_argument("--cli", default=os.environ.get("NTKCERT_BIN", str(ROOT / "target/release/ntkcert")))
    a = ap.parse_args()
    print(f"import ntkcert: {import_seconds:.3f} s")
    if a.tune_allocator:
        ntkcert.tune_allocator()
        print("allocator tuned as in the CLI")
    print(f"{'spec':<16} {'cli wall s':>10} {'cli cert s':>10} {'load s':>8} {'py wall s':>10} {'py call s':>10} {'overhead s':>10} {'overhead':>9}")
    for spec in a.specs:
        best = dict(cli_wall=1e9, cli_cert=1e9, load=1e9, py_wall=1e9, py_cert=1e9, over=1e9)
        over_share = 1e9
        for _ in range(a.repeat):
            t = time.perf_counter()
            out = subprocess.run([a.cli, "certify", spec, "--json", "--quiet"], capture_output=True, text=True)
            best["cli_wall"] = min(best["cli_wall"], time.perf_counter() - t)
            cli_result = json.loads(out.stdout)
            best["cli_cert"] = min(best["cli_cert"], cli_result["seconds"])
            t = time.perf_counter()
            loaded = ntkcert.Spec.from_toml(spec)
            best["load"] = min(best["load"], time.perf_counter() - t)
            t = time.perf_counter()
            r = ntkcert.certify(loaded, progress=False)
            wall = time.perf_counter() - t
            best["py_wall"] = min(best["py_wall"], wall)
            best["py_cert"] = min(best["py_cert"], r.call_seconds)
            best["over"] = min(best["over"], wall - r.call_seconds)
            over_share = min(over_share, (wall - r.call_seconds) / r.call_seconds)
            assert r.to_dict()["sup_deviation"] == cli_result["sup_deviation"], "python and CLI disagree"
        name = Path(spec).stem
        print(
            f"{name:<16} {best['cli_wall']:>10.4f} {best['cli_cert']:>10.4f} {best['load']:>8.4f} {best['py_wall']:>10.4f} "
            f"{best['py_cert']:>10.4f} {best['over']:>10.4f} {100 * over_share:>8.2f}%"
        )


if __name__ == "__main__":
    main()
