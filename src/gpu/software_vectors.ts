/**
 * Vector width of Mesa's llvmpipe, the software adapter WebGPU finds on a machine without a GPU.
 *
 * llvmpipe runs a group of invocations as the lanes of one CPU vector: 8 lanes of AVX2 by default,
 * even on a CPU with AVX-512, where Mesa keeps 512-bit vectors opt-in through the environment
 * variable `LP_NATIVE_VECTOR_WIDTH` (read once, when the first adapter is created). With 512 bits
 * a subgroup holds 16 lanes and has 32 vector registers instead of 16, which speeds up the GEMM
 * markedly (README, llvmpipe notes), and the whole test suite passes either way. So
 * {@link preferWideSoftwareVectors}
 * asks for 512 bits where the CPU has AVX-512 and nobody set the variable; a user's own
 * `LP_NATIVE_VECTOR_WIDTH` (e.g. 256) always wins. Other drivers ignore the variable.
 *
 * @module
 */

/** The variable llvmpipe reads. */
export const LLVMPIPE_WIDTH_VARIABLE = "LP_NATIVE_VECTOR_WIDTH";

/**
 * Sets `LP_NATIVE_VECTOR_WIDTH=512` for this process when it is unset and the CPU reports
 * `avx512f` (Linux `/proc/cpuinfo`). Takes effect only if called before the process's first
 * WebGPU adapter request; {@link GpuContext.create} calls it first thing. Without permission to
 * read `/proc/cpuinfo` or to set the environment it leaves everything as it is.
 * @returns the width this call set (512), or null when it set nothing
 * @example
 * ```ts
 * import { preferWideSoftwareVectors } from "./software_vectors.ts";
 * preferWideSoftwareVectors(); // before navigator.gpu.requestAdapter()
 * ```
 */
export function preferWideSoftwareVectors(): number | null {
  try {
    if (Deno.env.get(LLVMPIPE_WIDTH_VARIABLE) !== undefined) return null;
    if (!cpuHasAvx512()) return null;
    Deno.env.set(LLVMPIPE_WIDTH_VARIABLE, "512");
    return 512;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw e;
  }
}

/** True when `/proc/cpuinfo` exists and its flags include `avx512f`. */
function cpuHasAvx512(): boolean {
  let cpuinfo: string;
  try {
    cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  const flags = cpuinfo.match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
  return flags.includes("avx512f");
}
