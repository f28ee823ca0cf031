#!/usr/bin/env bash
# Kernel regression at a scale the dense path cannot reach: n = 60 000 training points of
# dimension 784, a depth-3 ReLU analytic NTK written to disk in f32 (14.4 GB), solved by
# preconditioned conjugate gradients (ntk predict --solver cg) on the memory-mapped file.
#
# The task is the synthetic teacher of crates/ntk-cli/examples/teacher.rs: inputs uniform
# on the unit sphere, labelled by the argmax of a random ReLU network's 10 outputs;
# one-hot targets (0.9 / −0.1); test metric: accuracy of the argmax on M held-out points.
#
# Usage: benches/solver/run.sh [N] [M] [DIR]        (defaults 60000 10000 /tmp/ntk-solver)
#   CHECK_DENSE=1 also runs the dense solver on the same files and prints the relative
#   difference (use N = 10000: the dense path needs 48·N² bytes and one eigendecomposition).
# Every stage runs under /usr/bin/time -v: wall time and peak RSS are printed per stage.
# Not part of CI.
set -euo pipefail
n=${1:-60000}
m=${2:-10000}
dir=${3:-/tmp/ntk-solver}
diag_reg=${DIAG_REG:-1e-3}
rank=${RANK:-200}  # TOL sets --tol (default 1e-6; use TOL=1e-8 with CHECK_DENSE=1)
threads=${THREADS:-0}
mkdir -p "$dir"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -p ntk-cli --bin ntk --example teacher >/dev/null
ntk="$CARGO_TARGET_DIR/release/ntk"
teacher="$CARGO_TARGET_DIR/release/examples/teacher"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"

stage() { # name, command…: runs it, prints its wall time and peak RSS
  local name=$1; shift
  local log="$dir/$name.time"
  /usr/bin/time -v "$@" 2>"$log" | sed 's/^/    /'
  local wall rss user sys
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
  user=$(sed -n 's/.*User time (seconds): //p' "$log")
  sys=$(sed -n 's/.*System time (seconds): //p' "$log")
  printf '%-12s wall %s  CPU %.1f s (user %s, sys %s)  peak RSS %.2f GiB\n' "$name" "$wall" \
    "$(echo "$user + $sys" | bc -l)" "$user" "$sys" "$(echo "$rss / 1048576" | bc -l)"
}

rm -f "$dir"/{ktt,kst,pred,pred_dense}.npy
t0=$(date +%s)
stage data "$teacher" data --n "$n" --m "$m" --d 784 --out "$dir"
model=(--method analytic --widths 512,512,512 --dtype f32 --threads "$threads")
stage k_train "$ntk" kernel "${model[@]}" --x1 "$dir/x.npy" --out "$dir/ktt.npy"
stage k_test "$ntk" kernel "${model[@]}" --x1 "$dir/xs.npy" --x2 "$dir/x.npy" --out "$dir/kst.npy"
stage solve "$ntk" predict --solver cg --k-train-train "$dir/ktt.npy" --k-test-train "$dir/kst.npy" \
  --y-train "$dir/y.npy" --times inf --diag-reg "$diag_reg" --rank "$rank" --tol "${TOL:-1e-6}" \
  --threads "$threads" --out "$dir/pred.npy"
"$teacher" accuracy "$dir/pred.npy" "$dir/labels.npy"
echo "pipeline (kernel, test kernel, solve; data included): $(( $(date +%s) - t0 )) s wall"
if [ "${CHECK_DENSE:-0}" = 1 ]; then
  stage dense "$ntk" predict --solver dense --k-train-train "$dir/ktt.npy" --k-test-train "$dir/kst.npy" \
    --y-train "$dir/y.npy" --times inf --diag-reg "$diag_reg" --threads "$threads" --out "$dir/pred_dense.npy"
  "$teacher" compare "$dir/pred.npy" "$dir/pred_dense.npy"
fi
