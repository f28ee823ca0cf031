#!/usr/bin/env bash
# ntk's Python module vs neural-tangents in the same Python process. From the repository
# root:
#
#     bash benches/compare/run_py.sh [py_bench.py arguments]
#
# Makes (or reuses) the pinned neural-tangents venv of run.sh (benches/compare/.venv, via
# NTK_SETUP_ONLY=1 run.sh), builds the `ntk` wheel into it (pip install --no-deps
# ./crates/ntk-py; maturin, the build backend, comes from PyPI) and runs py_bench.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
NTK_SETUP_ONLY=1 bash "$here/run.sh"
# The wheel: maturin (the build backend) comes from PyPI in pip's isolated build.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$root/crates/ntk-py"
"$venv/bin/python" -u "$here/py_bench.py" "$@"
