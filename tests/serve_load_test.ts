import assert from "node:assert/strict";
import { loadTest } from "../bench/serve_load.ts";
import { openSearch } from "../src/retrieval/search.ts";
import { serveSearch } from "../src/serve/server.ts";
import { gpuTest } from "./util/check.ts";
import { demoFixture } from "./util/demo_fixture.ts";

gpuTest(
  "loadTest: sequential then concurrent searches, latencies, memory, errors counted",
  async () => {
    const demo = await demoFixture();
    await using search = await openSearch(demo);
    const server = serveSearch(search, { port: 0, onListen: () => {} });
    const base = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
    const images = await Promise.all(demo.imagePaths.slice(0, 3).map((p) => Deno.readFile(p)));
    const o = { sequential: 6, concurrent: 5, images, reports: demo.reports.slice(0, 3), k: 10 };
    const result = await loadTest(base, o);
    for (const [phase, count] of [[result.sequential, 6], [result.concurrent, 5]] as const) {
      assert.equal(phase.count, count);
      assert.equal(phase.errors, 0, phase.firstError ?? "");
      assert.ok(0 < phase.p50 && phase.p50 <= phase.p95 && phase.p95 <= phase.max, `${phase}`);
      assert.ok(phase.max <= phase.wallMs + 1);
    }
    assert.ok(result.memory.before.rss > 0 && result.memory.after.rss > 0);
    // A search the server refuses is counted, with its message.
    const bad = await loadTest(base, { ...o, sequential: 2, concurrent: 0, k: 65 });
    assert.equal(bad.sequential.errors, 2);
    assert.match(bad.sequential.firstError!, /^422: k must be an integer from 1 to 64, got 65$/);
    await server.shutdown();
  },
);
