#!/usr/bin/env bash
# Dense gradient-flow predictions at n_train = 20 000 (two-stage eigendecomposition), five
# times, and the same job on the iterative path for comparison; peak RSS by GNU time.
#
#   bash benches/predict/run.sh [WORK_DIR]      # default: benches/predict/.work
#
# Inputs: 21 000 random unit vectors in 784 dimensions (numpy, seed 7), depth-3 ReLU analytic
# NTKs in f64 (W_std = √2, b_std = 0.1) as in the side-by-side's predict row, 10 targets.
# Needs numpy (PYTHON=…, default the side-by-side's venv, else python3) and about 24 GiB.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$here/.work}
mkdir -p "$work"
cd "$root"
cargo build --release -p ntk-cli >&2
ntk=${NTK_BIN:-$root/target/release/ntk}
py=${PYTHON:-$root/benches/compare/.venv/bin/python}
[ -x "$py" ] || py=python3
cd "$work"
[ -f Y.npy ] || "$py" - <<'P'
import numpy as np
r = np.random.default_rng(7)
x = r.standard_normal((21000, 784)); x /= np.linalg.norm(x, axis=1, keepdims=True)
np.save("Xtr.npy", x[:20000]); np.save("Xte.npy", x[20000:])
np.save("Y.npy", r.standard_normal((20000, 10)))
P
net=(--widths 4096,4096,4096 --w-std 1.4142135623730951 --b-std 0.1 --dtype f64)
[ -f KTT.npy ] || "$ntk" kernel --method analytic --x1 Xtr.npy "${net[@]}" --out KTT.npy
[ -f KST.npy ] || "$ntk" kernel --method analytic --x1 Xte.npy --x2 Xtr.npy "${net[@]}" --out KST.npy
for solver in dense auto; do
  echo "== --solver $solver"
  /usr/bin/time -v "$ntk" predict --k-train-train KTT.npy --k-test-train KST.npy --y-train Y.npy \
    --times 0,1,10,100,inf --diag-reg 1e-4 --solver "$solver" --out "P_$solver.npy" 2> "time_$solver.txt"
  grep -E "Maximum resident|Elapsed" "time_$solver.txt"
done
"$py" -c "
import numpy as np
a, b = np.load('P_dense.npy'), np.load('P_auto.npy')
print('dense vs auto, max relative difference per time:',
      [float(np.abs(a[i] - b[i]).max() / max(np.abs(a[i]).max(), 1e-300)) for i in range(len(a))])"
