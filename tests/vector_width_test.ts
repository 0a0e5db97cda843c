import { tryGetGpu } from "../src/gpu/context.ts";
import { LLVMPIPE_WIDTH_VARIABLE } from "../src/gpu/software_vectors.ts";

// llvmpipe picks its vector width, and so its subgroup size, once per process: on a CPU with
// AVX-512 this process runs 16-lane subgroups, and a child process with 256-bit vectors runs the
// kernels that depend on the subgroup size (the GEMM's shared rows, workgroup_sum) with 8.
const CHILD_TESTS = [
  "linear_test.ts", // "linear GPU matches twin on edge shapes …" prints "GEMM lanes N"
  "l2norm_test.ts",
  "grad_norm_test.ts",
  "bce_test.ts",
  "clip_loss_test.ts",
  "similarity_test.ts",
  "supcon_test.ts",
];
const gpu = await tryGetGpu();
const llvmpipeWidth = /llvmpipe \(.*, (\d+) bits\)/.exec(gpu?.info.name ?? "")?.[1];
// The child's subgroups hold 8 lanes where this backend has subgroups at all (not on GL).
const childSubgroups = gpu?.info.subgroupSize ? 8 : 0;

Deno.test({
  name: "GPU kernels with llvmpipe's other vector width (8-lane subgroups, a child process)",
  // Runs where llvmpipe uses 512-bit vectors (a CPU with AVX-512; 256 bits is Mesa's default).
  ignore: llvmpipeWidth !== "512",
  fn: async () => {
    const files = CHILD_TESTS.map((f) => new URL(f, import.meta.url).pathname);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      // One test per file: the one on the process-wide context, not its [no subgroups] twin.
      args: ["test", "-A", "--filter", "/GPU matches twin.*[^\\]]$/", ...files],
      env: { [LLVMPIPE_WIDTH_VARIABLE]: "256", NO_COLOR: "1" },
    }).output();
    const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    const ran = out.includes(`ok | ${CHILD_TESTS.length} passed | 0 failed`) &&
      out.includes(`GEMM lanes 8, subgroups ${childSubgroups}`);
    if (code !== 0 || !ran) {
      throw new Error(`the 256-bit child run failed or ran something else (exit ${code}):\n${out}`);
    }
  },
});
