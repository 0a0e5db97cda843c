/**
 * The ONNX graphs as data: decoded back through the protobuf descriptor, they declare opset 17,
 * the towers' input/output names with a dynamic batch, use only ops that exist in opset 17, and
 * hold every weight of the configured towers. The graph builder refuses malformed graphs.
 */

import assert from "node:assert/strict";
import { TINY_CONFIG } from "../src/encoders/biomedclip_config.ts";
import { buildImageTower, buildTextTower, OPSET } from "../src/encoders/onnx_builder.ts";
import { GraphBuilder } from "../src/encoders/onnx_graph.ts";
import { ModelProto } from "../src/encoders/onnx_proto.ts";
import { randomOpenClipStateDict } from "../src/encoders/open_clip_weights.ts";

/** Ops of the default domain, all defined at or before opset 17. */
const OPSET17_OPS = new Set([
  "Add",
  "Cast",
  "Concat",
  "Conv",
  "Div",
  "Erf",
  "Expand",
  "Gather",
  "Identity",
  "LayerNormalization",
  "MatMul",
  "Mul",
  "Reshape",
  "Shape",
  "Slice",
  "Softmax",
  "Sub",
  "Transpose",
  "Unsqueeze",
]); // deno-fmt-ignore

interface Decoded {
  opsetImport: { domain: string; version: number }[];
  graph: {
    node: { opType: string; domain?: string }[];
    initializer: { name: string; dims: number[]; rawData: Uint8Array }[];
    input: { name: string; type: { tensorType: { shape: { dim: Record<string, unknown>[] } } } }[];
    output: { name: string }[];
  };
}

function decode(bytes: Uint8Array): Decoded {
  return ModelProto.toObject(ModelProto.decode(bytes), {
    longs: Number,
    defaults: true,
  }) as Decoded;
}

const sd = randomOpenClipStateDict(TINY_CONFIG, 1);

Deno.test("image tower graph: opset 17, signature, ops and weights", () => {
  const m = decode(buildImageTower(TINY_CONFIG, sd));
  assert.deepEqual(m.opsetImport, [{ domain: "", version: OPSET }]);
  assert.deepEqual(m.graph.input.map((i) => i.name), ["pixel_values"]);
  assert.deepEqual(m.graph.output.map((o) => o.name), ["image_embeds"]);
  assert.deepEqual(
    m.graph.input[0].type.tensorType.shape.dim.map((d) => d.dimParam || d.dimValue),
    [
      "batch",
      3,
      32,
      32,
    ],
  );
  for (const n of m.graph.node) assert.ok(OPSET17_OPS.has(n.opType), `op ${n.opType}`);
  const names = new Set(m.graph.initializer.map((i) => i.name));
  for (const key of sd.keys()) {
    if (key.startsWith("visual.")) {
      assert.ok(names.has(key) || names.has(`${key}.T`), `weight ${key} missing from the graph`);
    }
  }
  const qkv = m.graph.initializer.find((i) =>
    i.name === "visual.trunk.blocks.0.attn.qkv.weight.T"
  )!;
  assert.deepEqual(qkv.dims, [32, 96]);
  assert.equal(qkv.rawData.length, 32 * 96 * 4);
});

Deno.test("text tower graph: dynamic batch and sequence, opset-17 ops", () => {
  const m = decode(buildTextTower(TINY_CONFIG, sd));
  assert.deepEqual(m.graph.input.map((i) => i.name), ["input_ids", "attention_mask"]);
  assert.deepEqual(m.graph.output.map((o) => o.name), ["text_embeds"]);
  for (const i of m.graph.input) {
    assert.deepEqual(i.type.tensorType.shape.dim.map((d) => d.dimParam), ["batch", "sequence"]);
  }
  for (const n of m.graph.node) assert.ok(OPSET17_OPS.has(n.opType), `op ${n.opType}`);
  const ops = m.graph.node.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === "Softmax").length, TINY_CONFIG.text.layers);
  assert.equal(ops.filter((o) => o === "Erf").length, TINY_CONFIG.text.layers + 1);
});

Deno.test("graph builder: reused names, undefined inputs and bad initializers are errors", () => {
  const g = new GraphBuilder("g");
  const x = g.input("x", "float32", [2]);
  assert.throws(() => g.input("x", "float32", [2]), /value name "x" reused/);
  assert.throws(() => g.op("Relu", ["y"]), /Relu reads undefined value "y"/);
  assert.throws(() => g.constant("w", new Float32Array(3), [2, 2]), /dims \[2,2\] hold 4 values/);
  g.output(g.op("Relu", [x]), "y", "float32", [2]);
  const m = decode(g.toModel({ opset: 17, producer: "test" }));
  assert.deepEqual(m.graph.node.map((n) => n.opType), ["Relu", "Identity"]);
});
