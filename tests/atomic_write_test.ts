import assert from "node:assert/strict";
import { writeFileAtomic } from "../src/util/atomic_write.ts";

Deno.test("writeFileAtomic replaces a file whole and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/params.json`;
  await writeFileAtomic(path, new TextEncoder().encode("old"));
  await writeFileAtomic(path, new TextEncoder().encode("new"));
  assert.equal(await Deno.readTextFile(path), "new");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["params.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic names the file it cannot write and removes its temporary file", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(
    () => writeFileAtomic(`${dir}/missing/params.json`, new Uint8Array(1)),
    (e: Error) => e.message.startsWith(`${dir}/missing/params.json: cannot write (`),
  );
  // A directory in the way: the rename fails after the temporary file was written.
  await Deno.mkdir(`${dir}/taken/inner`, { recursive: true });
  await assert.rejects(() => writeFileAtomic(`${dir}/taken`, new Uint8Array(1)), /taken: cannot/);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["taken"]);
  await Deno.remove(dir, { recursive: true });
});
