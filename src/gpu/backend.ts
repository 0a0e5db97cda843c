/**
 * The wgpu backend behind Deno's WebGPU. Deno reads `DENO_WEBGPU_BACKEND` when a process requests
 * its first adapter; unset, wgpu starts every backend it can load on Linux, Vulkan and GL (EGL)
 * alike, and picks among their adapters.
 *
 * Starting EGL only to pass it over has a cost: with both backends started, some processes abort
 * at exit after their work is done (libEGL's destructor races exiting threads; the README's
 * llvmpipe notes have the measurements), and with Vulkan alone libEGL is not even loaded. So on
 * Linux, where a Vulkan driver is installed and the user has not chosen,
 * {@link preferVulkanBackend} asks for Vulkan; a user's `DENO_WEBGPU_BACKEND` (e.g. `gl`) always
 * wins.
 *
 * @module
 */

/** The variable Deno reads. */
export const BACKEND_VARIABLE = "DENO_WEBGPU_BACKEND";

/**
 * Sets `DENO_WEBGPU_BACKEND=vulkan` for this process when it is unset, the OS is Linux and a
 * Vulkan driver manifest is installed ({@link vulkanDriverManifests}). Takes effect only before
 * the process's first WebGPU adapter request; {@link GpuContext.create} calls it first thing.
 * Without permission to read the environment or the manifest folders it leaves everything as it
 * is.
 * @returns the backend this call chose, or null when it set nothing
 * @example
 * ```ts
 * import { preferVulkanBackend } from "./backend.ts";
 * preferVulkanBackend(); // before navigator.gpu.requestAdapter()
 * ```
 */
export function preferVulkanBackend(): string | null {
  try {
    if (Deno.build.os !== "linux" || Deno.env.get(BACKEND_VARIABLE) !== undefined) return null;
    if (vulkanDriverManifests().length === 0) return null;
    Deno.env.set(BACKEND_VARIABLE, "vulkan");
    return "vulkan";
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw e;
  }
}

/**
 * The Vulkan driver (ICD) manifests the Vulkan loader would find on Linux: the files that
 * `VK_DRIVER_FILES` or `VK_ICD_FILENAMES` name, else the `.json` files in `vulkan/icd.d` under
 * the loader's search folders (`XDG_CONFIG_DIRS`, `/etc`, `XDG_DATA_DIRS`, `~/.local/share`).
 * @example
 * ```ts
 * import { vulkanDriverManifests } from "./backend.ts";
 * vulkanDriverManifests(); // e.g. ["/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"]
 * ```
 */
export function vulkanDriverManifests(): string[] {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const named = env("VK_DRIVER_FILES") ?? env("VK_ICD_FILENAMES");
  if (named) return named.split(":").filter((path) => isFile(path));
  const home = env("HOME");
  const roots = [
    ...(env("XDG_CONFIG_DIRS") ?? "/etc/xdg").split(":"),
    "/etc",
    ...(env("XDG_DATA_DIRS") ?? "/usr/local/share:/usr/share").split(":"),
    ...(home ? [`${home}/.local/share`] : []),
  ];
  return roots.flatMap((root) => jsonFiles(`${root}/vulkan/icd.d`));
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function jsonFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)]
      .filter((entry) => entry.name.endsWith(".json"))
      .map((entry) => `${dir}/${entry.name}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
    throw e;
  }
}
