/**
 * All-core WASM encoders do not hang: a batch of 8 on the demo image tower at 2 threads, in child
 * processes killed after a bound. Before the heap was sized up front (src/encoders/wasm_heap.ts),
 * most such runs hung forever after a pthread hit "memory access out of bounds".
 */

import assert from "node:assert/strict";
import { compareRows } from "./util/compare_rows.ts";

const CHILD = new URL("./util/encode_child.ts", import.meta.url).pathname;
/** A run takes 1-3 s on a loaded 2-core machine; a hung one never ends. */
const BOUND_MS = 90_000;

async function embedInChild(threads: number, batch: number) {
  const t0 = performance.now();
  const { code, signal, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, "--threads", `${threads}`, "--batch", `${batch}`, "--count", "8"],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(BOUND_MS),
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  const text = new TextDecoder().decode(stdout);
  assert.ok(
    code === 0,
    `${threads} threads, batch ${batch}: exit ${code} (signal ${signal}) after ` +
      `${seconds.toFixed(1)} s (bound ${BOUND_MS / 1000} s)\n${new TextDecoder().decode(stderr)}`,
  );
  const { dim, embeddings } = JSON.parse(text.trim().split("\n").at(-1)!);
  return { dim: dim as number, embeddings: Float32Array.from(embeddings as number[]) };
}

Deno.test("WASM encoders: a batch of 8 at 2 threads finishes, 3 runs out of 3, as 1 thread", async () => {
  const want = await embedInChild(1, 8);
  for (let run = 0; run < 3; run++) {
    const got = await embedInChild(2, 8);
    const { maxAbs, minCos } = compareRows(got.embeddings, want.embeddings, want.dim);
    assert.ok(maxAbs <= 1e-5 && minCos >= 0.99999, `run ${run}: max abs ${maxAbs}, cos ${minCos}`);
  }
});
