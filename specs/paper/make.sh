#!/bin/sh
# Reproduces specs/paper/: two certified sweeps, their tables (LaTeX, Markdown) and figures
# (SVG, pgfplots). About a second after `cargo build --release`; tests/paper.rs checks that the
# committed results are what the code produces.
# A sweep resumes: cells already in specs/paper/*/results.jsonl are not recomputed; delete
# specs/paper/f7 and specs/paper/gf-mlp to recompute everything.
set -eu
cd "$(dirname "$0")/../.."
N=${NTKCERT:-target/release/ntkcert}
COLS=alpha,T,verdict,kappa,supD,sharpened,gronwall_t2,supD/sharpened
for s in f7 gf-mlp; do
  "$N" sweep "specs/paper/$s-schedules.toml" --out "specs/paper/$s" --quiet
  "$N" table "specs/paper/$s/results.jsonl" --format latex --columns "sweep.alpha,$COLS" --out "specs/paper/$s-table.tex"
  "$N" table "specs/paper/$s/results.jsonl" --format markdown --columns "sweep.alpha,$COLS" --out "specs/paper/$s-table.md"
done
"$N" plot specs/paper/f7/results.jsonl --out specs/paper/f7.svg \
  --title "F7 tightness family (u = 0.8, L = 1, y = 1): certified sup D against T"
"$N" plot specs/paper/f7/results.jsonl --format pgfplots --out specs/paper/f7-pgfplots.tex \
  --title "F7 tightness family: certified sup D against T"
"$N" plot specs/paper/gf-mlp/results.jsonl --out specs/paper/gf-mlp.svg \
  --title "GF-MLP(16, 2, 8): certified sup D against T"
"$N" plot specs/paper/gf-mlp/results.jsonl --format pgfplots --out specs/paper/gf-mlp-pgfplots.tex \
  --title "GF-MLP(16, 2, 8): certified sup D against T"
