"""Inputs of benches/mpi/run.sh without numpy: X (n x d, unit rows), XS (test points) and
Y (n x k targets), f32/f64 .npy files written by hand. Usage: inputs.py DIR N D N_TEST K [SEED]"""
import math
import random
import struct
import sys


def save(path, rows, cols, values, f32=False):
    descr = "<f4" if f32 else "<f8"
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }" % (descr, rows, cols)
    hdr += " " * (63 - (len(hdr) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
        f.write(struct.pack("<%d%s" % (rows * cols, "f" if f32 else "d"), *values))


def unit_rows(rng, rows, cols):
    out = []
    for _ in range(rows):
        r = [rng.gauss(0.0, 1.0) for _ in range(cols)]
        norm = math.sqrt(sum(v * v for v in r))
        out.extend(v / norm for v in r)
    return out


d, n, dim, m, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(int(sys.argv[6]) if len(sys.argv) > 6 else 0)
save(f"{d}/x.npy", n, dim, unit_rows(rng, n, dim), f32=True)
save(f"{d}/xs.npy", m, dim, unit_rows(rng, m, dim), f32=True)
save(f"{d}/y.npy", n, k, [rng.gauss(0.0, 1.0) for _ in range(n * k)])
