#!/usr/bin/env bash
# Executes every notebook in notebooks/ headlessly with the evcxr `rust` kernel, writing the
# outputs back into the .ipynb files; exits non-zero if any cell errors.
#
# What it needs, pinned:
#   * evcxr_jupyter 0.22.0: $NTK_EVCXR_JUPYTER if set, else the one cargo records as
#     installed under ~/.cargo (or under $NTK_NOTEBOOK_TOOLS, where older runs put it);
#     otherwise it is installed with `cargo install --locked --root ~/.cargo` (10-20 min of
#     compiling, once per machine: later runs and clean clones find it there). Its kernel spec goes under
#     $NTK_NOTEBOOK_TOOLS (default: target/notebook-tools), found through JUPYTER_PATH
#     (nothing is written to ~/.local);
#   * nbclient and friends (requirements.txt) in a Python venv under $NTK_NOTEBOOK_TOOLS;
#   * for python-quickstart.ipynb, a venv with the `ntk` wheel and ipykernel: $NTK_PY_VENV
#     when set (.ci/run makes one), else $NTK_NOTEBOOK_TOOLS/py-venv, built here with
#     `pip install ./crates/ntk-py ipykernel` (a few minutes, reused by later runs). Its
#     `python3` kernel spec goes under $NTK_NOTEBOOK_TOOLS/python, also on JUPYTER_PATH.
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

# An evcxr_jupyter of the pinned version, reused when one is installed (cargo's own
# record of what it installed under a root says which version a binary is).
pinned() { cargo install --list --root "$1" 2>/dev/null | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; }
if [ -n "${NTK_EVCXR_JUPYTER:-}" ]; then
    evcxr="$NTK_EVCXR_JUPYTER"
elif pinned "$HOME/.cargo"; then
    evcxr="$HOME/.cargo/bin/evcxr_jupyter"
elif pinned "$tools"; then
    evcxr="$tools/bin/evcxr_jupyter"
else
    stamp "installing evcxr_jupyter $EVCXR_VERSION into ~/.cargo (once per machine)"
    cargo install --locked --quiet evcxr_jupyter --version "$EVCXR_VERSION" --root "$HOME/.cargo"
    evcxr="$HOME/.cargo/bin/evcxr_jupyter"
fi
stamp "using $evcxr"
export JUPYTER_PATH="$tools/jupyter"
"$evcxr" --install >/dev/null

venv="$tools/venv"
if ! "$venv/bin/python" -c "import nbclient" 2>/dev/null; then
    stamp "creating the Python venv $venv"
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

# The Python kernel for python-quickstart.ipynb: the venv with the wheel.
pyvenv="${NTK_PY_VENV:-$tools/py-venv}"
if ! "$pyvenv/bin/python" -c "import ntk, ipykernel" 2>/dev/null; then
    stamp "building the ntk wheel into $pyvenv"
    python3 -m venv "$pyvenv"
    "$pyvenv/bin/pip" install --quiet --disable-pip-version-check ipykernel
    "$pyvenv/bin/pip" install --quiet --disable-pip-version-check "$root/crates/ntk-py"
fi
rm -rf "$tools/python"
"$pyvenv/bin/python" -m ipykernel install --prefix "$tools/python" --name python3 >/dev/null 2>&1
export JUPYTER_PATH="$tools/jupyter:$tools/python/share/jupyter"

mkdir -p "$here/.evcxr"
[ -f "$here/.evcxr/Cargo.lock" ] || cp "$root/Cargo.lock" "$here/.evcxr/Cargo.lock"

cd "$here"
if [ "$#" -eq 0 ]; then
    set -- [0-9]*.ipynb python-quickstart.ipynb
fi
stamp "executing $*"
status=0
"$venv/bin/python" execute.py "$@" || status=$?
stamp "done (exit $status)"
exit "$status"
