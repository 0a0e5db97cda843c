/**
 * Worker thread of `generateSyntheticCxr`: receives {@link SyntheticJob}s, renders, encodes
 * and writes each PNG, then answers `{}` (or `{ error }`).
 *
 * @module
 */

import { type SyntheticJob, syntheticPng } from "./synthetic_cxr.ts";

/** The worker's global scope, as much of it as is used here. */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SyntheticJob[]>) => void) | null;
  postMessage(message: { error?: string }): void;
};

scope.onmessage = (e) => {
  try {
    for (const job of e.data) Deno.writeFileSync(job.path, syntheticPng(job.study, job.size));
    scope.postMessage({});
  } catch (err) {
    scope.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
