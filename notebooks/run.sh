#!/usr/bin/env bash
# Executes every notebook in notebooks/ headlessly with the evcxr `rust` kernel, writing the
# outputs back into the .ipynb files; exits non-zero if any cell errors.
#
# Installs what it needs, pinned, under $NTK_NOTEBOOK_TOOLS (default: target/notebook-tools):
#   * evcxr_jupyter 0.22.0 with `cargo install --locked` (about 8 min of compiling, once),
#     and its kernel spec, found through JUPYTER_PATH (nothing is written to ~/.local);
#   * nbclient and friends (requirements.txt) in a Python venv.
# evcxr's build directory is notebooks/.evcxr (evcxr.toml); it is seeded with the
# workspace's Cargo.lock so the notebooks build against the same crate versions as `cargo
# test`. The first notebook compiles the engine there (about 2 min); the rest reuse it.
#
# Usage: notebooks/run.sh [NOTEBOOK.ipynb...]   (default: every notebook)
set -euo pipefail

EVCXR_VERSION=0.22.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="${NTK_NOTEBOOK_TOOLS:-$root/target/notebook-tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"
start=$(date +%s)
stamp() { echo "[notebooks $(($(date +%s) - start)) s] $*"; }

if ! cargo install --list --root "$tools" 2>/dev/null | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; then
    stamp "installing evcxr_jupyter $EVCXR_VERSION into $tools"
    cargo install --locked --quiet evcxr_jupyter --version "$EVCXR_VERSION" --root "$tools"
fi
export JUPYTER_PATH="$tools/jupyter"
"$tools/bin/evcxr_jupyter" --install >/dev/null

venv="$tools/venv"
if ! "$venv/bin/python" -c "import nbclient" 2>/dev/null; then
    stamp "creating the Python venv $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

mkdir -p "$here/.evcxr"
[ -f "$here/.evcxr/Cargo.lock" ] || cp "$root/Cargo.lock" "$here/.evcxr/Cargo.lock"

cd "$here"
if [ "$#" -eq 0 ]; then
    set -- [0-9]*.ipynb
fi
stamp "executing $*"
status=0
"$venv/bin/python" execute.py "$@" || status=$?
stamp "done (exit $status)"
exit "$status"
