import assert from "node:assert/strict";
import {
  BACKEND_VARIABLE,
  preferVulkanBackend,
  vulkanDriverManifests,
} from "../src/gpu/backend.ts";
import { describeGpu, tryGetGpu } from "../src/gpu/context.ts";
import { RUNTIME_DIR_VARIABLE } from "../src/gpu/runtime_dir.ts";

/** Runs `fn` with the named variables set (or removed, for undefined), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

Deno.test("vulkanDriverManifests: VK_DRIVER_FILES names the manifests, missing files dropped", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const manifest = `${dir}/test_icd.json`;
    Deno.writeTextFileSync(manifest, "{}");
    const found = withEnv(
      { VK_DRIVER_FILES: `${manifest}:${dir}/absent.json`, VK_ICD_FILENAMES: undefined },
      vulkanDriverManifests,
    );
    assert.deepEqual(found, [manifest]);
    const searched = withEnv(
      { VK_DRIVER_FILES: undefined, VK_ICD_FILENAMES: undefined, XDG_DATA_DIRS: dir },
      vulkanDriverManifests,
    );
    assert.ok(!searched.includes(manifest), "a manifest outside vulkan/icd.d is not a driver");
    Deno.mkdirSync(`${dir}/vulkan/icd.d`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/vulkan/icd.d/test_icd.json`, "{}");
    const inData = withEnv(
      { VK_DRIVER_FILES: undefined, VK_ICD_FILENAMES: undefined, XDG_DATA_DIRS: dir },
      vulkanDriverManifests,
    );
    assert.ok(inData.includes(`${dir}/vulkan/icd.d/test_icd.json`), inData.join(", "));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("preferVulkanBackend leaves a user's DENO_WEBGPU_BACKEND alone", () => {
  withEnv({ [BACKEND_VARIABLE]: "gl" }, () => {
    assert.equal(preferVulkanBackend(), null);
    assert.equal(Deno.env.get(BACKEND_VARIABLE), "gl");
  });
  withEnv({ [BACKEND_VARIABLE]: undefined }, () => {
    const expected = Deno.build.os === "linux" && vulkanDriverManifests().length > 0
      ? "vulkan"
      : null;
    assert.equal(preferVulkanBackend(), expected);
    assert.equal(Deno.env.get(BACKEND_VARIABLE), expected ?? undefined);
  });
});

const gpu = await tryGetGpu();

/**
 * Runs `body` in a fresh Deno process, after `const gpu = await GpuContext.create();`, with this
 * process's environment less `unset`; returns the JSON of its last output line and its stderr.
 */
async function inFreshContext(
  body: string,
  unset: string,
): Promise<{ seen: Record<string, unknown>; stderr: string }> {
  const context = new URL("../src/gpu/context.ts", import.meta.url).href;
  const script = `
    const { GpuContext } = await import(${JSON.stringify(context)});
    const gpu = await GpuContext.create();
    ${body}`;
  const env = Deno.env.toObject();
  delete env[unset];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env,
    clearEnv: true,
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  const out = new TextDecoder().decode(stdout).trim().split("\n").at(-1)!;
  return { seen: JSON.parse(out), stderr: err };
}

Deno.test({
  name: "a fresh process with a Vulkan driver uses Vulkan alone: libEGL is never loaded",
  ignore: !gpu || Deno.build.os !== "linux" || vulkanDriverManifests().length === 0,
  fn: async () => {
    const { seen } = await inFreshContext(
      `const maps = Deno.readTextFileSync("/proc/self/maps");
       console.log(JSON.stringify({ backend: gpu.info.backend, egl: /libEGL/.test(maps) }));`,
      BACKEND_VARIABLE,
    );
    assert.deepEqual(seen, { backend: "vulkan", egl: false });
  },
});

Deno.test({
  name: "a fresh process without XDG_RUNTIME_DIR gets a private one: libwayland prints nothing",
  ignore: !gpu || Deno.build.os !== "linux",
  fn: async () => {
    const { seen, stderr } = await inFreshContext(
      `const dir = Deno.env.get("XDG_RUNTIME_DIR");
       const info = Deno.statSync(dir);
       console.log(JSON.stringify({ dir, mode: info.mode & 0o777, ours: info.uid === Deno.uid() }));`,
      RUNTIME_DIR_VARIABLE,
    );
    assert.doesNotMatch(stderr, /XDG_RUNTIME_DIR/);
    assert.match(String(seen.dir), /cxr-runtime-/);
    assert.deepEqual({ mode: seen.mode, ours: seen.ours }, { mode: 0o700, ours: true });
  },
});

Deno.test("describeGpu names the faster path on Mesa's software GL adapter only", () => {
  const info = {
    name: "llvmpipe (LLVM 15.0.6, 256 bits)",
    backend: "gl",
    isFallback: true,
    softwareGl: true,
    subgroupSize: 0,
  };
  assert.equal(
    describeGpu(info),
    "GPU: llvmpipe (LLVM 15.0.6, 256 bits) (backend gl, subgroups off); this is Mesa's software " +
      "GL adapter, the slowest path: `apt-get install mesa-vulkan-drivers` gives the faster " +
      "software Vulkan one",
  );
  assert.equal(
    describeGpu({ ...info, backend: "vulkan", softwareGl: false, subgroupSize: 16 }),
    "GPU: llvmpipe (LLVM 15.0.6, 256 bits) (backend vulkan, subgroups 16)",
  );
  if (gpu) {
    const gl = gpu.info.backend === "gl" && gpu.info.isFallback;
    assert.equal(gpu.info.softwareGl, gl, "this process's adapter is classified by its backend");
    const noVulkan = Deno.build.os === "linux" && vulkanDriverManifests().length === 0;
    if (noVulkan) assert.equal(gpu.info.backend, "gl", "without a Vulkan driver wgpu runs GL");
  }
});
