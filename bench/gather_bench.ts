import { tryGetGpu } from "../src/gpu/context.ts";
import { gatherRows } from "../src/ops/gather.ts";
import * as twin from "../src/reference/gather.ts";
import { Rng } from "../src/util/rng.ts";
import { benchThroughput } from "./util/throughput.ts";

const gpu = await tryGetGpu();
// A 512-d embedding table of 10,000 items, batches of 256 rows; REPS batches per submit.
const tableRows = 10_000, dim = 512, rows = 256, REPS = 16;
const rng = new Rng(0);
const table = Float32Array.from({ length: tableRows * dim }, () => rng.normal());
const order = rng.permutation(tableRows);
const dst = new Float32Array(rows * dim);
const group = `gather ${rows}x${dim} from ${tableRows} rows`;
// Reads the indices and rows, writes the batch.
const bytes = 4 * (rows + 2 * rows * dim);

benchThroughput({
  name: "CPU twin (typed-array copy)",
  group,
  baseline: true,
  work: { bytes },
  fn: () => twin.gatherRows(table, order, dst, { rows, dim, offset: 0 }),
});

if (gpu) {
  const src = gpu.storage(table),
    index = gpu.storage(Uint32Array.from(order)),
    out = gpu.storage(rows * dim);
  const commands = Array.from(
    { length: REPS },
    (_, b) => gatherRows(gpu, src, index, out, { rows, dim, offset: b * rows }),
  ).flat();
  benchThroughput({
    name: `GPU gather (${REPS} batches per submit)`,
    group,
    work: { bytes: bytes * REPS },
    fn: () => gpu.run(commands),
  });
} else {
  benchThroughput({
    name: "GPU gather",
    group,
    work: {},
    fn: () => {},
    ignore: "no WebGPU adapter",
  });
}
