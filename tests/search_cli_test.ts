import assert from "node:assert/strict";
import { join } from "node:path";
import { gpuTest } from "./util/check.ts";
import { runCli } from "./util/cli.ts";
import { demoFixture } from "./util/demo_fixture.ts";

/** Runs `deno task search` with `args`. */
const search = (args: string[]) => runCli("search.ts", args);

gpuTest("deno task search --image prints ranked reports, the same on every run", async () => {
  const demo = await demoFixture();
  const files = ["--checkpoint", demo.checkpoint, "--collection", demo.collection];
  const image = demo.imagePaths[10];
  const a = await search([...files, "--image", image, "--k", "10"]);
  assert.equal(a.code, 0, a.stderr);
  const lines = a.stdout.trim().split("\n");
  assert.match(lines[0], /^query: image, probability of abnormal 0\.\d{3} \(BCE head\)$/);
  assert.equal(lines[1], "reports most similar:");
  assert.equal(lines.length, 12);
  const rows = lines.slice(2).map((l) =>
    l.match(/^ +(\d+) {2}(\d\.\d{4}) {2}(\w+) +(\S+) {2}(.*)$/)
  );
  assert.ok(rows.every((m) => m !== null), a.stdout);
  assert.deepEqual(rows.map((m) => Number(m![1])), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(rows.every((m) => ["normal", "abnormal"].includes(m![3])));
  assert.ok(lines.every((l) => l.length <= 120));
  // The image's own report (or one word for word alike) is among them, cut to one line.
  const own = demo.reports[10].replace(/\s+/g, " ").trim();
  assert.ok(rows.some((m) => own.startsWith(m![5].replace(/…$/, ""))), a.stdout);
  assert.equal((await search([...files, "--image", image, "--k", "10"])).stdout, a.stdout);

  const json = await search([...files, "--image", image, "--k", "10", "--json"]);
  const result = JSON.parse(json.stdout);
  assert.equal(result.query, "image");
  assert.deepEqual(result.hits.map((h: { rank: number }) => h.rank), rows.map((m) => +m![1]));
  assert.equal(result.hits[0].score.toFixed(4), rows[0]![2]);
});

gpuTest("deno task search --text prints ranked image paths", async () => {
  const demo = await demoFixture();
  const files = ["--checkpoint", demo.checkpoint, "--collection", demo.collection];
  const r = await search([...files, "--text", "Large right pneumothorax.", "--k", "4"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0], /^query: report, probability of abnormal 0\.\d{3}/);
  assert.equal(lines[1], "images most similar:");
  const paths = lines.slice(2).map((l) => l.split("  ").at(-1));
  assert.equal(paths.length, 4);
  assert.ok(paths.every((p) => demo.imagePaths.includes(p!)), r.stdout);
});

gpuTest("deno task search: clear errors, exit 1", async () => {
  const demo = await demoFixture();
  const dir = await Deno.makeTempDir();
  const files = ["--checkpoint", demo.checkpoint, "--collection", demo.collection];
  const fake = join(dir, "report.png");
  await Deno.writeTextFile(fake, "Heart size normal. No effusion.\n");
  const cases: [string[], string][] = [
    [["--image", join(dir, "none.png")], "none.png: cannot read the query image (no such file)"],
    [["--image", fake], `${fake}: not a PNG or JPEG image`],
    [["--text", " "], "the query report: empty report"],
    [["--text", "Cardiomegaly.", "--k", "0"], "k must be an integer from 1 to 64, got 0"],
    [[], "give --image or --text"],
  ];
  for (const [args, text] of cases) {
    const r = await search([...files, ...args]);
    assert.equal(r.code, 1, `${args}: ${r.stdout}`);
    assert.ok(r.stderr.includes(`error: `) && r.stderr.includes(text), `${args}: ${r.stderr}`);
  }
  const r = await search(["--collection", join(dir, "c.safetensors"), "--text", "x"]);
  assert.ok(r.stderr.includes(`error: ${join(dir, "c.safetensors")}: no such collection file`));
  await Deno.remove(dir, { recursive: true });
});
