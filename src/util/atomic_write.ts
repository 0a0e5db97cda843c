/**
 * Atomic file writes: checkpoints, caches, logs and reports are replaced whole or not at all.
 *
 * @module
 */

/**
 * Writes a file atomically: to a temporary name in the same directory, synced, then renamed, so
 * a reader (or a resumed run after a kill) sees the old file or the new one, never half of one.
 * On failure the temporary file is removed and the error names `path`.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/params.json`, new TextEncoder().encode("{}"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`${path}: cannot write (${(e as Error).message})`, { cause: e });
  }
}
