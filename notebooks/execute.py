"""Executes notebooks in place and fails on any error cell. The kernel is the one the
notebook names (its kernelspec): evcxr's `rust` for the Rust notebooks, `python3` (the
venv with the `ntk` wheel, set up by run.sh) for python-quickstart.ipynb.

Usage: python execute.py NOTEBOOK.ipynb...   (run from notebooks/, as run.sh does)

Each notebook gets a fresh kernel started in this folder (so evcxr reads evcxr.toml and
reuses its build directory). Outputs are written back even when a cell fails, so the error
can be read in the notebook; the exit status is 1 if any notebook had an error cell.
"""

import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

# Generous: the first notebook's `:dep` cell compiles the engine (about 2 min cold on two
# cores); no other cell should take more than a few seconds.
CELL_TIMEOUT_S = 1800


def error_cells(nb):
    """Indices of code cells with an error output."""
    bad = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                bad.append(i)
                break
    return bad


def run(path):
    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata.get("kernelspec", {}).get("name", "rust")
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=kernel,
        resources={"metadata": {"path": "."}},
        record_timing=False,
    )
    start = time.monotonic()
    failure = None
    try:
        client.execute()
    except CellExecutionError as e:
        failure = str(e).splitlines()[:40]
    nbformat.write(nb, path)
    elapsed = time.monotonic() - start
    bad = error_cells(nb)
    if failure or bad:
        print(f"FAIL {path} ({elapsed:.0f} s): error in cell(s) {bad}", flush=True)
        for line in failure or []:
            print("    " + line)
        return False
    print(f"ok   {path} ({elapsed:.0f} s)", flush=True)
    return True


def main(paths):
    if not paths:
        print("usage: execute.py NOTEBOOK.ipynb...", file=sys.stderr)
        return 2
    results = [run(p) for p in paths]
    passed = sum(results)
    print(f"notebooks: {passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
