#!/usr/bin/env bash
# MPI rank scaling (issue 15), at 1, 2 and 4 ranks (`mpirun -np R`), each rank with
# max(1, cores / R) threads, best of REPS (default 2):
#   kernel: `ntk kernel --method empirical`, one hidden ReLU layer of m = 16384, n = 4096
#           unit-norm points of d = 64 (f32), the symmetric 4096 × 4096 NTK;
#   kernel2: the same network between X and 4096 other points (x1 × x2: no triangle to
#           save, so bands cost what one process pays);
#   solve:  `ntk predict --solver cg --times inf` on the analytic NTK file of the same points
#           (f32), 512 test points, k = 10 targets, RPCholesky rank 100, diag_reg 1e-3.
# Prints the time rank 0 reports (start to published file), the wall time of mpirun (with
# MPI's start-up) and the throughput. Every output is compared with the 1-rank one (cmp).
# Usage: benches/mpi/run.sh [NTK_BINARY built with --features mpi]
set -euo pipefail
ntk=${1:-target/release/ntk}
reps=${REPS:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cores=$(nproc)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores; MPI: $(mpirun --version 2>&1 | grep -m1 -i "version" | tr -s " ")"
python3 "$(dirname "$0")/inputs.py" "$dir" 4096 64 512 10
mkdir "$dir/b" && python3 "$(dirname "$0")/inputs.py" "$dir/b" 4096 64 1 1 1 && mv "$dir/b/x.npy" "$dir/x2.npy"
"$ntk" kernel --method analytic --x1 "$dir/x.npy" --out "$dir/ktt.npy" >/dev/null
"$ntk" kernel --method analytic --x1 "$dir/xs.npy" --x2 "$dir/x.npy" --out "$dir/kst.npy" >/dev/null
best() { sort -g | head -1; }
for job in ${JOBS:-kernel kernel2 solve}; do
  for r in 1 2 4; do
    t=$(( cores / r )); [ "$t" -ge 1 ] || t=1
    : > "$dir/times"; : > "$dir/walls"
    for _ in $(seq "$reps"); do
      if [ "$job" = kernel ]; then
        args=(kernel --method empirical --x1 "$dir/x.npy" --widths 16384 --out "$dir/k$r.npy")
      elif [ "$job" = kernel2 ]; then
        args=(kernel --method empirical --x1 "$dir/x.npy" --x2 "$dir/x2.npy" --widths 16384 --out "$dir/k$r.npy")
      else
        args=(predict --solver cg --k-train-train "$dir/ktt.npy" --k-test-train "$dir/kst.npy"
              --y-train "$dir/y.npy" --times inf --diag-reg 1e-3 --rank 100 --out "$dir/p$r.npy")
      fi
      s=$(date +%s.%N)
      mpirun -np "$r" "$ntk" "${args[@]}" --threads "$t" > "$dir/log"
      e=$(date +%s.%N)
      sed -n 's/^  time \([0-9.]*\) s.*/\1/p; s/^gradient flow.* in \([0-9.]*\) s$/\1/p' "$dir/log" >> "$dir/times"
      echo "$e - $s" | bc -l >> "$dir/walls"
      [ "$job" = solve ] && iters=$(sed -n 's/^  pcg: \([0-9]*\) iterations.*/\1/p' "$dir/log")
    done
    tb=$(best < "$dir/times"); wb=$(best < "$dir/walls")
    if [ "$job" != solve ]; then
      cmp "$dir/k1.npy" "$dir/k$r.npy"
      rate=$(echo "4096 * 4096 / $tb / 1000000" | bc -l)
      printf "$job ranks=%d threads/rank=%d time=%.2fs wall=%.2fs %.2f M entries/s (same bytes as 1 rank)\n" "$r" "$t" "$tb" "$wb" "$rate"
    else
      cmp "$dir/p1.npy" "$dir/p$r.npy"
      printf "solve  ranks=%d threads/rank=%d time=%.2fs wall=%.2fs pcg %s iterations, %.1f iterations/s (same bytes as 1 rank)\n" "$r" "$t" "$tb" "$wb" "$iters" "$(echo "$iters / $tb" | bc -l)"
    fi
  done
done
