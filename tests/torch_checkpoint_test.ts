/**
 * The restricted PyTorch checkpoint reader and the safetensors reader: every storage dtype,
 * strided and offset views (fixtures written by tests/oracle/biomedclip_oracle.py --cases), and
 * pickles that try to run code: refused with an error naming the global or opcode, nothing run.
 */

import assert from "node:assert/strict";
import { unzipSync, zipSync } from "fflate";
import { safetensorsStateDict } from "../src/encoders/safetensors_reader.ts";
import { type StateDict, toFloat32 } from "../src/encoders/state_dict.ts";
import { readTorchCheckpoint } from "../src/encoders/torch_checkpoint.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const expected: Record<string, { shape: number[]; dtype: string; values: number[] }> = JSON.parse(
  Deno.readTextFileSync(`${FIXTURES}torch_cases.json`),
);

function checkCases(sd: StateDict, source: string) {
  assert.deepEqual([...sd.keys()], Object.keys(expected), `${source}: keys`);
  for (const [name, e] of Object.entries(expected)) {
    const t = sd.get(name)!;
    assert.equal(t.dtype, e.dtype, `${source} ${name}: dtype`);
    assert.deepEqual(t.shape, e.shape, `${source} ${name}: shape`);
    const got = /float/.test(t.dtype)
      ? Array.from(toFloat32(t, name))
      : Array.from(t.data as ArrayLike<number | bigint>, Number);
    const want = /float/.test(t.dtype) ? e.values.map(Math.fround) : e.values;
    assert.deepEqual(got, want, `${source} ${name}: values`);
  }
}

Deno.test("torch zip checkpoint: all dtypes, transposed and offset views", () => {
  checkCases(
    readTorchCheckpoint(Deno.readFileSync(`${FIXTURES}torch_cases.bin`), "cases.bin"),
    "bin",
  );
});

Deno.test("safetensors: the same tensors", () => {
  const bytes = Deno.readFileSync(`${FIXTURES}torch_cases.safetensors`);
  checkCases(safetensorsStateDict(bytes, "cases.safetensors"), "safetensors");
});

/** The tiny model's checkpoint with its data.pkl replaced by `pickle`. */
function plant(pickle: number[]): Uint8Array {
  const entries = unzipSync(Deno.readFileSync(`${FIXTURES}biomedclip_tiny/open_clip_tiny.bin`));
  const pkl = Object.keys(entries).find((n) => n.endsWith("/data.pkl"))!;
  entries[pkl] = new Uint8Array(pickle);
  return zipSync(entries, { level: 0 });
}

const ascii = (s: string) => Array.from(new TextEncoder().encode(s));
const PROTO2 = [0x80, 0x02];

function refuses(bytes: Uint8Array, text: string) {
  assert.throws(() => readTorchCheckpoint(bytes, "evil.bin"), (e: Error) => {
    assert.ok(e.message.includes(text), `message\n${e.message}\nlacks\n${text}`);
    return true;
  });
}

Deno.test("malicious pickles are refused and nothing runs", async () => {
  const marker = await Deno.makeTempFile({ prefix: "cxr-pwned-" });
  await Deno.remove(marker);
  const cmd = `touch ${marker}`;
  // os.system("touch ...") via GLOBAL + REDUCE: what a hostile torch.save would contain.
  refuses(
    plant([
      ...PROTO2,
      ...ascii("cos\nsystem\n"),
      0x58,
      cmd.length,
      0,
      0,
      0,
      ...ascii(cmd),
      0x85,
      0x52,
      0x2e,
    ]),
    "global os.system is not allowed",
  );
  // builtins.eval via protocol-4 STACK_GLOBAL.
  refuses(
    plant([
      0x80,
      0x04,
      0x8c,
      8,
      ...ascii("builtins"),
      0x8c,
      4,
      ...ascii("eval"),
      0x93,
      0x2e,
    ]),
    "global builtins.eval is not allowed",
  );
  // REDUCE of something that is not an allowed callable (here a dict).
  refuses(plant([...PROTO2, 0x7d, 0x29, 0x52, 0x2e]), "REDUCE on a dict: not a callable");
  // REDUCE of an allowed global that is not a rebuild function (calling a storage class).
  refuses(
    plant([...PROTO2, ...ascii("ctorch\nFloatStorage\n"), 0x29, 0x52, 0x2e]),
    "REDUCE of torch.FloatStorage is not allowed",
  );
  // Object-building opcodes are refused by name.
  refuses(plant([...PROTO2, 0x29, 0x29, 0x81, 0x2e]), "opcode NEWOBJ is not allowed");
  refuses(plant([...PROTO2, 0x28, ...ascii("ios\nsystem\n"), 0x2e]), "opcode INST is not allowed");
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, "the planted command ran");
});

Deno.test("not a zip, or a zip without data.pkl: clear errors", () => {
  refuses(new Uint8Array([0x80, 0x02, 0x7d, 0x2e]), "not a zip file");
  refuses(zipSync({ "x/readme.txt": new Uint8Array(1) }), "expected one <archive>/data.pkl");
  refuses(plant([...PROTO2, 0x7d]), "pickle ends early");
});

Deno.test("safetensors: bad headers are clear errors", () => {
  const header = ascii(JSON.stringify({ w: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }));
  const bytes = new Uint8Array([header.length, 0, 0, 0, 0, 0, 0, 0, ...header, 0, 0, 0, 0]);
  assert.throws(
    () => safetensorsStateDict(bytes, "bad.safetensors"),
    /tensor "w" \[2\] F32 needs 8 bytes/,
  );
  assert.throws(
    () => safetensorsStateDict(bytes.subarray(0, 20), "cut.safetensors"),
    /cut\.safetensors: file is cut off \(truncated\)/,
  );
});
