#!/usr/bin/env bash
# ntk vs neural-tangents, side by side. From the repository root of a clean clone:
#
#     bash benches/compare/run.sh
#
# 1. makes benches/compare/.venv (CPython 3.9–3.12) with the pins of requirements.txt,
#    installed with --no-deps (no TensorFlow: see the patch's header);
# 2. applies nt-0.6.5-jax-0.4.30.patch to the installed neural-tangents (the fix that its
#    structured-derivatives NTK needs on jax 0.4.30, written by us);
# 3. builds ntk (cargo build --release -p ntk-cli; a no-op when up to date), unless NTK_BIN
#    names a binary to use instead;
# 4. runs nt_bench.py: both engines on the same workloads in the same run, alternating,
#    and prints the results table. Extra arguments go to nt_bench.py (--help lists them).
#
# Environment: PYTHON (the interpreter for the venv, default python3), NTK_BIN;
# NTK_SETUP_ONLY=1 stops after step 2 (run_py.sh uses it to make the venv).
# The venv is rebuilt when requirements.txt or the patch change.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
py="${PYTHON:-python3}"
patch_file="$here/nt-0.6.5-jax-0.4.30.patch"
start=$SECONDS

say() { printf '%s\n' "$*"; }

# ---- 1. the Python environment
stamp="$(cat "$here/requirements.txt" "$patch_file" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    case "$ver" in
        3.9|3.10|3.11|3.12) ;;
        *) say "run.sh: $py is Python $ver; jax/jaxlib 0.4.30 need 3.9–3.12 (set PYTHON=...)" >&2
           exit 2 ;;
    esac
    say "== creating $venv (Python $ver)"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        -r "$here/requirements.txt"

    # ---- 2. the patch, applied inside site-packages
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    say "== patching neural-tangents in $site"
    patch -d "$site" -p1 --forward --batch < "$patch_file"
    printf '%s\n' "$stamp" > "$venv/.stamp"
    say "== environment ready after $((SECONDS - start)) s"
else
    say "== reusing $venv (pins and patch unchanged)"
fi

[[ "${NTK_SETUP_ONLY:-}" == 1 ]] && exit 0

# ---- 3. ntk
if [[ -n "${NTK_BIN:-}" ]]; then
    ntk="$NTK_BIN"
else
    say "== cargo build --release -p ntk-cli"
    (cd "$root" && cargo build --release -p ntk-cli)
    ntk="${CARGO_TARGET_DIR:-$root/target}/release/ntk"
    [[ "$ntk" = /* ]] || ntk="$root/$ntk"
fi
[[ -x "$ntk" ]] || { say "run.sh: no ntk binary at $ntk" >&2; exit 2; }

# ---- 4. the comparison
say "== uptime: $(uptime)"
"$venv/bin/python" -u "$here/nt_bench.py" --ntk "$ntk" --work "$here/.work" --deep "$@"
say "== uptime: $(uptime)"
say "== run.sh took $((SECONDS - start)) s"
