/**
 * `deno task train`: trains the projector heads. The trainer lands with the training issue;
 * until then this prints what exists.
 *
 * @module
 */

if (import.meta.main) {
  console.log("deno task train: not yet — the GPU kernels are in place, the trainer is next.");
}
