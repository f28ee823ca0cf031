#!/usr/bin/env bash
# Thread scaling of the empirical NTK: one-hidden-layer ReLU, n = 1024 unit-norm points,
# d = 784, f32, at 1, 2, 4, 8, 16 threads (as many as the machine has).
# Usage: benches/scaling/run.sh [NTK_BINARY] [X.npy]
# X.npy defaults to benches/scaling/x1024.npy (1024 × 784 f32; make one with
#   python3 -c "import numpy as np; r=np.random.default_rng(0); x=r.standard_normal((1024,784)).astype('f4'); np.save('benches/scaling/x1024.npy', x/np.linalg.norm(x,axis=1,keepdims=True))"
set -euo pipefail
ntk=${1:-target/release/ntk}
x=${2:-benches/scaling/x1024.npy}
out=$(mktemp -d)
cores=$(nproc)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores"
for m in 16384 65536; do
  for t in 1 2 4 8 16; do
    [ "$t" -le "$cores" ] || continue
    best=""
    for rep in 1 2 3; do
      s=$("$ntk" kernel --method empirical --x1 "$x" --widths "$m" --threads "$t" --out "$out/k.npy" | sed -n 's/^  time \([0-9.]*\) s.*/\1/p')
      if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
    done
    echo "m=$m threads=$t best_of_3=${best}s"
  done
done
rm -rf "$out"
