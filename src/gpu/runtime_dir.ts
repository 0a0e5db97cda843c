/**
 * A private `XDG_RUNTIME_DIR` for processes started without one (servers, containers, CI).
 *
 * Mesa's Vulkan drivers load libwayland while they look for a display, and libwayland prints
 * `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` when the variable is unset,
 * which reads as a failure to every user although nothing failed. Pointing the variable at an
 * empty folder that only this user can enter silences it: libwayland finds no display socket
 * there and the driver goes on without a display, as it does anyway.
 *
 * @module
 */

/** The variable libwayland reads. */
export const RUNTIME_DIR_VARIABLE = "XDG_RUNTIME_DIR";

/**
 * Sets `XDG_RUNTIME_DIR` for this process, when it is unset, to a folder under the system's
 * temporary folder that belongs to this user and that nobody else can enter (mode 0700; a folder
 * of that name owned by someone else or open to others is not used, and a fresh one is made).
 * Takes effect only before the process's first WebGPU adapter request;
 * {@link GpuContext.create} calls it first thing. Without permission to read the environment or
 * to make the folder, it leaves everything as it is.
 * @returns the folder it set, or null when it set nothing
 * @example
 * ```ts
 * import { providePrivateRuntimeDir } from "./runtime_dir.ts";
 * providePrivateRuntimeDir(); // before navigator.gpu.requestAdapter()
 * ```
 */
export function providePrivateRuntimeDir(): string | null {
  try {
    if (Deno.build.os !== "linux" || Deno.env.get(RUNTIME_DIR_VARIABLE)) return null;
    const dir = privateDir();
    Deno.env.set(RUNTIME_DIR_VARIABLE, dir);
    return dir;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw e;
  }
}

/** `$TMPDIR/cxr-runtime-<uid>`, made or checked; a fresh temporary folder if it is not ours. */
function privateDir(): string {
  const uid = Deno.uid() ?? 0;
  const dir = `${Deno.env.get("TMPDIR") || "/tmp"}/cxr-runtime-${uid}`;
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const info = Deno.lstatSync(dir);
  const ours = info.isDirectory && info.uid === uid && ((info.mode ?? 0) & 0o077) === 0;
  return ours ? dir : Deno.makeTempDirSync({ prefix: "cxr-runtime-" });
}
