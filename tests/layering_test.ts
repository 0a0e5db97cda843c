import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The rooms of src/, lowest first: a module may import from its own room or a lower one, never a
 * higher one. Utilities and IO sit below everything; the GPU stack (kernel twins, runtime, ops,
 * model) below the flow data → encoders → metrics → train → eval → retrieval → serve; the
 * pipeline and the CLIs on top.
 */
const LAYERS = [
  "util",
  "io",
  "reference",
  "gpu",
  "ops",
  "model",
  "data",
  "encoders",
  "metrics",
  "train",
  "eval",
  "retrieval",
  "serve",
  "pipeline",
  "cli",
];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");

/** Relative module specifiers of the import and export declarations in `source` (not in comments). */
function importsOf(source: string): string[] {
  // Declarations start a line; JSDoc examples (` * import …`) do not.
  const declaration = /^(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)"|^import\s*"(\.[^"]+)"/gm;
  return [...source.matchAll(declaration)].map((m) => m[1] ?? m[2]);
}

function sourceFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory ? sourceFiles(path) : e.name.endsWith(".ts") ? [path] : [];
  });
}

/** The room of a file under src/ (its first folder). */
function roomOf(path: string): string {
  return relative(SRC, path).split("/")[0];
}

Deno.test("importsOf reads declarations, not doc examples", () => {
  const source = [
    'import { a } from "./a.ts";',
    "import {",
    "  b,",
    '} from "../model/b.ts";',
    'export { c } from "../c/c.ts";',
    'import type { d } from "node:path";',
    ' * import { e } from "../train/e.ts";',
  ].join("\n");
  assert.deepEqual(importsOf(source), ["./a.ts", "../model/b.ts", "../c/c.ts"]);
});

Deno.test("every room of src/ is in the layer order", () => {
  const rooms = [...Deno.readDirSync(SRC)].filter((e) => e.isDirectory).map((e) => e.name);
  assert.deepEqual(rooms.filter((r) => !LAYERS.includes(r)), [], "declare new rooms in LAYERS");
});

Deno.test("no module of src/ imports from a room above its own", () => {
  const upward: string[] = [];
  let edges = 0;
  for (const file of sourceFiles(SRC)) {
    const from = LAYERS.indexOf(roomOf(file));
    for (const spec of importsOf(Deno.readTextFileSync(file))) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + "/")) {
        upward.push(`${relative(ROOT, file)} imports ${spec}, outside src/`);
        continue;
      }
      edges++;
      if (LAYERS.indexOf(roomOf(target)) > from) {
        upward.push(
          `${relative(ROOT, file)} (${roomOf(file)}) imports ${spec} (${roomOf(target)})`,
        );
      }
    }
  }
  assert.ok(edges > 200, `only ${edges} imports found: is importsOf still reading them?`);
  assert.deepEqual(upward, []);
});

Deno.test("mod.ts exports the library, not the CLIs", () => {
  const cli = importsOf(Deno.readTextFileSync(join(ROOT, "mod.ts")))
    .filter((s) => s.startsWith("./src/cli/"));
  assert.deepEqual(cli, []);
});
