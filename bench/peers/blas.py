"""The BLAS a peer runs on: what it is, and a check that it multiplies correctly.

This workplace may pin OpenBLAS to an older kernel (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) because
some OpenBLAS builds misbehave on new CPUs; the pin slows OpenBLAS where it is not needed
(measured on an AVX-512 machine: Haswell kernels 160 GFLOP/s, OpenBLAS's own choice, Cooperlake,
255 GFLOP/s for 4096x512x512). bench/util/peer.ts starts BLAS peers without the pin first; a peer
calls check_sgemm before its banner, so one whose BLAS computes wrong products exits and is
started again with the pin."""

import ctypes
import os
import sys

import numpy as np

PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_info():
    """The BLAS libraries mapped into this process and, for OpenBLAS, its config, the kernel it
    runs (core), its threads, and the pins set in the environment."""
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "blas" in line.lower()})
    info = {"libraries": libs, "pins": {k: os.environ[k] for k in PINS if k in os.environ}}
    for lib in libs:
        if "openblas" in lib:
            handle = ctypes.CDLL(lib)
            handle.openblas_get_config.restype = ctypes.c_char_p
            handle.openblas_get_corename.restype = ctypes.c_char_p
            info["openblas_config"] = handle.openblas_get_config().decode()
            info["openblas_core"] = handle.openblas_get_corename().decode()
            info["openblas_threads"] = handle.openblas_get_num_threads()
            break
    return info


def check_sgemm(matmul, n=512):
    """Exits with a message unless matmul(a, b) of two float32 n x n matrices matches the float64
    product (relative Frobenius error below 1e-5; float32 rounding gives ~1e-7)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    want = a.astype(np.float64) @ b.astype(np.float64)
    error = np.linalg.norm(np.asarray(matmul(a, b), dtype=np.float64) - want) / np.linalg.norm(want)
    if not error < 1e-5:
        sys.exit(f"BLAS check failed: float32 {n}x{n} product off by {error:.3g} (relative), "
                 f"info {blas_info()}")
