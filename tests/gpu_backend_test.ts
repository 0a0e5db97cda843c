import assert from "node:assert/strict";
import {
  BACKEND_VARIABLE,
  preferVulkanBackend,
  vulkanDriverManifests,
} from "../src/gpu/backend.ts";
import { tryGetGpu } from "../src/gpu/context.ts";

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

Deno.test({
  name: "a fresh process with a Vulkan driver uses Vulkan alone: libEGL is never loaded",
  ignore: !gpu || Deno.build.os !== "linux" || vulkanDriverManifests().length === 0,
  fn: async () => {
    const context = new URL("../src/gpu/context.ts", import.meta.url).href;
    const script = `
      const { GpuContext } = await import(${JSON.stringify(context)});
      const gpu = await GpuContext.create();
      const maps = Deno.readTextFileSync("/proc/self/maps");
      console.log(JSON.stringify({ backend: gpu.info.backend, egl: /libEGL/.test(maps) }));`;
    const env = Deno.env.toObject();
    delete env[BACKEND_VARIABLE];
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      env,
      clearEnv: true,
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1)!), { backend: "vulkan", egl: false });
  },
});
