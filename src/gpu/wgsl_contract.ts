/**
 * The interface of a WGSL module as a kernel's contract sees it (bound variables, structs,
 * functions and what they refer to, override constants), and the check of a {@link KernelSpec}
 * against it: the pipeline cache runs it once per kernel, before the first compile, so a
 * contract that disagrees with its WGSL fails with the kernel and the field named instead of a
 * bind-group validation error or, worse, uniforms read from the wrong offsets.
 *
 * The reader knows the subset of WGSL the kernels use: module-scope `var`s with `@group` and
 * `@binding`, structs of named fields, `fn` declarations, `override`s, `//` and `/* *\/` comments.
 *
 * @module
 */

import { type BindingKind, KernelContractError, type KernelSpec } from "./kernel.ts";

/** A module-scope variable bound to a group and binding. */
export interface WgslBinding {
  /** Variable name. */
  readonly name: string;
  /** `@group`. */
  readonly group: number;
  /** `@binding`. */
  readonly binding: number;
  /** The `var<…>` template (`uniform`, `storage, read`, …), empty for textures. */
  readonly space: string;
  /** The declared type, e.g. `array<f32>` or `Shape`. */
  readonly type: string;
}

/** What {@link checkContract} needs to know about a WGSL module. */
export interface WgslInterface {
  /** Bound variables by name. */
  readonly bindings: ReadonlyMap<string, WgslBinding>;
  /** Struct fields by struct name, in order, as `name: type`. */
  readonly structs: ReadonlyMap<string, readonly string[]>;
  /**
   * Identifiers each function's body refers to, other than its parameters and locals (member
   * names after `.` left out).
   */
  readonly functions: ReadonlyMap<string, ReadonlySet<string>>;
  /** Functions marked `@compute`. */
  readonly entryPoints: ReadonlySet<string>;
  /** `override` constants. */
  readonly overrides: ReadonlySet<string>;
}

/** Where a dispatch of a checked kernel binds its uniform struct and each named binding. */
export interface BindingSlots {
  /** Binding number of the uniform struct, or null when the kernel reads none. */
  readonly uniform: number | null;
  /** Binding number of each binding the spec declares. */
  readonly bindings: ReadonlyMap<string, number>;
}

/**
 * Reads the interface of a WGSL module.
 * @example
 * ```ts
 * const wgsl = parseWgsl(`
 *   struct Shape { n: u32, weight: f32 }
 *   @group(0) @binding(0) var<uniform> shape: Shape;
 *   @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *   @compute @workgroup_size(64) fn main() { y[0] = shape.weight; }
 * `);
 * wgsl.structs.get("Shape"); // ["n: u32", "weight: f32"]
 * wgsl.functions.get("main"); // Set { "y", "shape" }
 * ```
 */
export function parseWgsl(source: string): WgslInterface {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, "");
  const bindings = new Map<string, WgslBinding>();
  const bound = /((?:@\w+\([^)]*\)\s*)+)var\s*(?:<([^>]*)>)?\s*(\w+)\s*:\s*([^;]+);/g;
  for (const [, attributes, space = "", name, type] of code.matchAll(bound)) {
    const group = attributes.match(/@group\(\s*(\d+)\s*\)/)?.[1];
    const binding = attributes.match(/@binding\(\s*(\d+)\s*\)/)?.[1];
    if (group === undefined || binding === undefined) continue;
    bindings.set(name, {
      name,
      group: Number(group),
      binding: Number(binding),
      space: space.replace(/\s+/g, " ").trim(),
      type: type.replace(/\s+/g, " ").trim(),
    });
  }
  const structs = new Map<string, string[]>();
  for (const [, name, body] of code.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}/g)) {
    structs.set(
      name,
      splitTopLevel(body.replace(/@\w+(\([^)]*\))?/g, ""))
        .map((f) => f.replace(/\s+/g, " ").replace(/\s*:\s*/, ": ").trim())
        .filter((f) => f.length > 0),
    );
  }
  const functions = new Map<string, Set<string>>();
  const entryPoints = new Set<string>();
  for (const m of code.matchAll(/((?:@\w+(?:\([^)]*\))?\s*)*)\bfn\s+(\w+)\s*\(/g)) {
    const [, attributes, name] = m;
    if (/@compute\b/.test(attributes)) entryPoints.add(name);
    const open = code.indexOf("{", m.index + m[0].length);
    const params = code.slice(m.index + m[0].length, open);
    const body = code.slice(open, matchingBrace(code, open));
    // Parameters and locals shadow module-scope names.
    const locals = new Set([
      ...[...params.matchAll(/(\w+)\s*:/g)].map((p) => p[1]),
      ...[...body.matchAll(/\b(?:let|var|const)\s+(\w+)/g)].map((l) => l[1]),
    ]);
    const ids = body.match(/(?<!\.\s*)\b[A-Za-z_]\w*/g) ?? [];
    functions.set(name, new Set(ids.filter((id) => !locals.has(id))));
  }
  const overrides = new Set([...code.matchAll(/\boverride\s+(\w+)/g)].map((m) => m[1]));
  return { bindings, structs, functions, entryPoints, overrides };
}

/**
 * Checks `spec` (with its libraries and workgroup size chosen for the device: `files` and
 * `constants`) against the interface of its WGSL: the entry point exists and is `@compute`; the
 * uniform struct it reads has exactly the fields of `spec.uniforms`, in order and of those types;
 * the other bound variables it uses (through any function it calls) are exactly `spec.bindings`,
 * each with the declared kind; no two bound variables of the module share a binding; every
 * constant is an `override`. Returns where each declared binding goes.
 * @throws {KernelContractError} naming the kernel, the file and the field.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelContractError } from "./kernel.ts";
 * const wgsl = parseWgsl(`
 *   override WG_X: u32 = 64;
 *   struct Shape { n: u32, weight: f32 }
 *   @group(0) @binding(0) var<uniform> shape: Shape;
 *   @group(0) @binding(1) var<storage, read_write> y: array<f32>;
 *   @compute @workgroup_size(WG_X) fn main() { y[0] = shape.weight; }
 * `);
 * const spec = {
 *   name: "demo",
 *   file: "demo.wgsl",
 *   entryPoint: "main",
 *   workgroupSize: [64],
 *   uniforms: { n: "u32", weight: "f32" },
 *   bindings: { y: "read_write" },
 * } as const;
 * checkContract(spec, wgsl, ["demo.wgsl"], { WG_X: 64 }).bindings.get("y"); // 1
 * assert.throws(
 *   () => checkContract({ ...spec, uniforms: { weight: "f32", n: "u32" } }, wgsl, ["demo.wgsl"], {}),
 *   KernelContractError, // kernel demo: uniform field 1 is "weight: f32" in struct Shape …
 * );
 * ```
 */
export function checkContract(
  spec: KernelSpec,
  wgsl: WgslInterface,
  files: readonly string[],
  constants: Readonly<Record<string, number>>,
): BindingSlots {
  const where = `kernel ${spec.name} (kernels/${
    files.join(" + ")
  }, entry point ${spec.entryPoint})`;
  const fail = (what: string): never => {
    throw new KernelContractError(`${where}: ${what}`);
  };
  if (!wgsl.entryPoints.has(spec.entryPoint)) fail("no @compute function of that name");
  for (const name of Object.keys(constants)) {
    if (!wgsl.overrides.has(name)) fail(`constant ${name} is not an override in the WGSL`);
  }
  const slots = new Map<number, string>();
  for (const b of wgsl.bindings.values()) {
    if (b.group !== 0) fail(`${b.name} is in @group(${b.group}); kernels bind group 0 only`);
    const other = slots.get(b.binding);
    if (other) fail(`${other} and ${b.name} share @binding(${b.binding}); give each its own`);
    slots.set(b.binding, b.name);
  }
  const used = usedBindings(wgsl, spec.entryPoint);
  const uniforms = used.filter((b) => b.space === "uniform");
  if (uniforms.length > 1) fail(`reads ${uniforms.length} uniform structs; one at most`);
  const [uniform] = uniforms;
  if (spec.uniforms && !uniform) fail("declares uniforms but reads no uniform struct");
  if (uniform && !spec.uniforms) {
    fail(`reads the uniform struct ${uniform.name}: ${uniform.type}; declare its fields`);
  }
  if (uniform && spec.uniforms) {
    const wgslFields = wgsl.structs.get(uniform.type) ??
      fail(`the uniform ${uniform.name} is a ${uniform.type}, not a struct of the module`);
    const declared = Object.entries(spec.uniforms).map(([name, type]) => `${name}: ${type}`);
    for (let i = 0; i < Math.max(declared.length, wgslFields.length); i++) {
      if (declared[i] !== wgslFields[i]) {
        fail(
          `uniform field ${i} is ${quote(wgslFields[i])} in struct ${uniform.type}, ` +
            `the spec declares ${quote(declared[i])}`,
        );
      }
    }
  }
  const bindings = new Map<string, number>();
  for (const b of used) {
    if (b === uniform) continue;
    const declared = spec.bindings[b.name];
    if (!declared) fail(`uses ${b.name} (@binding(${b.binding})), which the spec does not declare`);
    const actual = kindOf(b) ?? fail(`${b.name} is a ${describe(b)}, which kernels cannot bind`);
    if (actual !== declared) {
      fail(`binding ${b.name} is declared ${declared} but the WGSL has ${describe(b)}`);
    }
    bindings.set(b.name, b.binding);
  }
  for (const name of Object.keys(spec.bindings)) {
    if (!bindings.has(name)) {
      fail(
        wgsl.bindings.has(name)
          ? `declares binding ${name}, which the entry point does not use`
          : `declares binding ${name}, which the WGSL does not have`,
      );
    }
  }
  return { uniform: uniform?.binding ?? null, bindings };
}

/** The bound variables the entry point refers to, directly or through the functions it calls. */
function usedBindings(wgsl: WgslInterface, entryPoint: string): WgslBinding[] {
  const seen = new Set([entryPoint]), todo = [entryPoint];
  const used = new Set<WgslBinding>();
  while (todo.length > 0) {
    for (const id of wgsl.functions.get(todo.pop()!) ?? []) {
      const b = wgsl.bindings.get(id);
      if (b) used.add(b);
      else if (wgsl.functions.has(id) && !seen.has(id)) {
        seen.add(id);
        todo.push(id);
      }
    }
  }
  return [...used].sort((a, b) => a.binding - b.binding);
}

function kindOf(b: WgslBinding): BindingKind | null {
  if (b.space === "storage, read" || b.space === "storage") return "read";
  if (b.space === "storage, read_write") return "read_write";
  const texture = b.type.match(/^texture_storage_2d\s*<\s*rgba32float\s*,\s*(read|write)\s*>$/);
  if (b.space === "" && texture) return texture[1] === "read" ? "read-texture" : "write-texture";
  return null;
}

function describe(b: WgslBinding): string {
  return `var${b.space ? `<${b.space}>` : ""} ${b.name}: ${b.type}`;
}

function quote(field: string | undefined): string {
  return field === undefined ? "nothing" : `"${field}"`;
}

/** Splits on commas outside `<…>` and `(…)` (so `array<f32, 4>` stays whole). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "<" || c === "(") depth++;
    else if (c === ">" || c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The index just past the `}` that closes the `{` at `open`. */
function matchingBrace(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === "{") depth++;
    else if (code[i] === "}" && --depth === 0) return i + 1;
  }
  return code.length;
}
