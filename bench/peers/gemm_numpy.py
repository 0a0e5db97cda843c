"""numpy's GEMM y = x @ w + b (float32) as the peer of bench/linear_bench.ts.

Checks numpy's BLAS (blas.py), prints one JSON line describing it (the shared library actually
loaded and, for OpenBLAS, its config, kernel, threads and pins), then serves requests on stdin: a
line holding a count n runs n GEMMs and answers "ok" once they are done, so the bench times it
with the same clock and in the same run as the GPU kernels. EOF ends it.

  /usr/bin/python3 bench/peers/gemm_numpy.py --rows 4096 --in-dim 512 --out-dim 512
"""

import argparse
import json
import sys

import numpy as np

from blas import blas_info, check_sgemm


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--in-dim", type=int, required=True)
    parser.add_argument("--out-dim", type=int, required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.in_dim), dtype=np.float32)
    w = rng.standard_normal((args.in_dim, args.out_dim), dtype=np.float32)
    b = rng.standard_normal(args.out_dim, dtype=np.float32)
    y = np.empty((args.rows, args.out_dim), dtype=np.float32)
    check_sgemm(np.matmul)  # loads the BLAS before it is reported
    print(json.dumps({"numpy": np.__version__, **blas_info()}), flush=True)
    for line in sys.stdin:
        for _ in range(int(line)):
            np.matmul(x, w, out=y)
            y += b
        print("ok", flush=True)


if __name__ == "__main__":
    main()
