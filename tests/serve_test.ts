import assert from "node:assert/strict";
import { openSearch } from "../src/retrieval/search.ts";
import { searchApp } from "../src/serve/app.ts";
import { serveSearch } from "../src/serve/server.ts";
import { imageType, parseSearchRequest, RequestError } from "../src/serve/upload.ts";
import { gpuTest } from "./util/check.ts";
import { startServe } from "./util/cli.ts";
import { demoFixture } from "./util/demo_fixture.ts";

const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  new Request(`http://127.0.0.1${path}`, { method: "POST", body, headers });

const form = (fields: Record<string, string | Blob>, name = "x.png") => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === "string") f.append(k, v);
    else f.append(k, v, name);
  }
  return f;
};

Deno.test("imageType recognizes PNG and JPEG by content, not by name", () => {
  assert.equal(
    imageType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
    "image/png",
  );
  assert.equal(imageType(new Uint8Array([0xff, 0xd8, 0xff, 0xdb])), "image/jpeg");
  assert.equal(imageType(new TextEncoder().encode("\x89PNG but text")), null);
  assert.equal(imageType(new Uint8Array()), null);
});

Deno.test("parseSearchRequest: JSON, form and raw bodies; limits and bad bodies refused", async () => {
  const limits = { maxBytes: 1024, defaultK: 10 };
  const json = (body: string, path = "/api/search") =>
    parseSearchRequest(post(path, body, { "content-type": "application/json" }), limits);
  assert.deepEqual(await json('{"text":"Cardiomegaly."}'), {
    kind: "text",
    text: "Cardiomegaly.",
    k: 10,
  });
  assert.deepEqual(await json('{"text":"a","k":3}'), { kind: "text", text: "a", k: 3 });
  assert.deepEqual(await json('{"text":"a"}', "/api/search?k=4"), {
    kind: "text",
    text: "a",
    k: 4,
  });
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]);
  const raw = await parseSearchRequest(post("/api/search?k=2", png), limits);
  assert.deepEqual(raw, { kind: "image", bytes: png, name: "the uploaded file", k: 2 });
  const fromForm = await parseSearchRequest(
    post("/api/search", form({ image: new Blob([png]), k: "5" })),
    limits,
  );
  assert.deepEqual(fromForm, { kind: "image", bytes: png, name: "x.png", k: 5 });
  const text = await parseSearchRequest(post("/api/search", form({ text: "Effusion." })), limits);
  assert.deepEqual(text, { kind: "text", text: "Effusion.", k: 10 });

  const refused = async (request: Request, status: number, message: string) => {
    await assert.rejects(parseSearchRequest(request, limits), (e: Error) => {
      assert.ok(e instanceof RequestError, e.message);
      assert.equal(e.status, status, e.message);
      assert.ok(e.message.includes(message), e.message);
      return true;
    });
  };
  await refused(post("/api/search", "{", { "content-type": "application/json" }), 400, "not JSON");
  await refused(
    post("/api/search", "{}", { "content-type": "application/json" }),
    400,
    'needs "text"',
  );
  await refused(post("/api/search?k=two", png), 400, "k must be an integer, got two");
  await refused(
    post("/api/search", new Uint8Array(1025)),
    413,
    "larger than the limit of 1024 bytes",
  );
  // A body that does not say its length is cut off at the limit.
  const stream = new ReadableStream({
    pull(c) {
      c.enqueue(new Uint8Array(400));
    },
  });
  await refused(post("/api/search", stream), 413, "larger than the limit");
  const fake = new Blob([new TextEncoder().encode("Heart size normal.")]);
  await refused(
    post("/api/search", form({ image: fake }, "report.png")),
    415,
    "report.png is not a PNG or JPEG",
  );
  await refused(
    post("/api/search", form({ k: "3" })),
    400,
    "choose an X-ray image or paste a report",
  );
  await refused(post("/api/search", new Uint8Array()), 400, "the uploaded file is empty");
});

gpuTest(
  "searchApp: the page, searches by image and report, the collection's images only",
  async () => {
    const demo = await demoFixture();
    await using search = await openSearch(demo);
    const handle = searchApp(search, { maxUploadBytes: 2 ** 20, log: () => {} });

    const page = await handle(new Request("http://127.0.0.1/"));
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
    const html = await page.text();
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i, "nothing loaded from elsewhere");
    assert.doesNotMatch(html, /@import|url\(\s*["']?(https?:)?\/\//i);

    const png = await Deno.readFile(demo.imagePaths[4]);
    const direct = await search.searchByImage(png, 10);
    const raw = await handle(post("/api/search", png));
    assert.equal(raw.status, 200);
    const byImage = await raw.json();
    assert.equal(byImage.query, "image");
    assert.equal(byImage.abnormal, direct.abnormal);
    assert.deepEqual(byImage.hits.map((h: { id: string }) => h.id), direct.hits.map((h) => h.id));
    assert.ok(
      byImage.hits.every((h: { imageUrl: null; imageUrls: string[] }) =>
        h.imageUrl === null && h.imageUrls.length === 1
      ),
    );
    const viaForm = await (await handle(post("/api/search?k=10", form({ image: new Blob([png]) }))))
      .json();
    assert.deepEqual(viaForm, byImage);

    const byText = await (await handle(
      post("/api/search?k=5", JSON.stringify({ text: "Small left pleural effusion." }), {
        "content-type": "application/json",
      }),
    )).json();
    assert.equal(byText.query, "text");
    assert.equal(byText.hits.length, 5);
    for (const hit of byText.hits) {
      const image = await handle(new Request(`http://127.0.0.1${hit.imageUrl}`));
      assert.equal(image.status, 200);
      assert.equal(image.headers.get("content-type"), "image/png");
      assert.deepEqual(
        new Uint8Array(await image.arrayBuffer()),
        await Deno.readFile(hit.imagePath),
      );
    }

    const status = await (await handle(new Request("http://127.0.0.1/api/status"))).json();
    assert.equal(status.studies, 120);
    assert.equal(status.synthetic, true);
    assert.ok(status.memory.rss > 0);
  },
);

gpuTest("searchApp: bad requests get a clear message, and the server keeps serving", async () => {
  const demo = await demoFixture();
  await using search = await openSearch(demo);
  const handle = searchApp(search, { maxUploadBytes: 2 ** 20, log: () => {} });
  const png = await Deno.readFile(demo.imagePaths[0]);
  const cases: [Request, number, string][] = [
    [
      post("/api/search", form({ image: new Blob(["No effusion."]) }, "text.png")),
      415,
      "text.png is not a PNG or JPEG image",
    ],
    [
      post("/api/search", form({ image: new Blob([png.slice(0, 300)]) }, "cut.png")),
      422,
      "cut.png: corrupt PNG",
    ],
    [post("/api/search", new Uint8Array(2 ** 20 + 1)), 413, "larger than the limit of 1 MB"],
    [
      post("/api/search", '{"text":" "}', { "content-type": "application/json" }),
      422,
      "the report: empty report",
    ],
    [post("/api/search?k=0", png), 422, "k must be an integer from 1 to 64, got 0"],
    [new Request("http://127.0.0.1/api/search"), 405, "POST a search to /api/search"],
    [new Request("http://127.0.0.1/image/120"), 404, "no image 120 in the collection"],
    [new Request("http://127.0.0.1/image/..%2F..%2Fetc%2Fpasswd"), 404, "nothing at GET"],
    [new Request("http://127.0.0.1/etc/passwd"), 404, "nothing at GET /etc/passwd"],
  ];
  for (const [request, status, message] of cases) {
    const response = await handle(request);
    const body = await response.json();
    assert.equal(response.status, status, `${request.url}: ${JSON.stringify(body)}`);
    assert.ok(body.error.includes(message), `${request.url}: ${body.error}`);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  }
  assert.equal((await handle(post("/api/search", png))).status, 200);
});

gpuTest(
  "serveSearch: loopback by default; an upload is searched without touching the disk",
  async () => {
    const demo = await demoFixture();
    await using search = await openSearch(demo);
    const listening: string[] = [];
    const server = serveSearch(search, { port: 0, onListen: (url) => listening.push(url) });
    const { hostname, port } = server.addr as Deno.NetAddr;
    assert.equal(hostname, "127.0.0.1");
    assert.deepEqual(listening, [`http://127.0.0.1:${port}/`]);
    const png = await Deno.readFile(demo.imagePaths[7]);
    // Every way Deno writes a file throws while the uploads are handled.
    const writers = ["writeFile", "writeTextFile", "open", "create", "makeTempFile", "makeTempDir"];
    const saved = writers.map((w) => [w, Reflect.get(Deno, w)] as const);
    const writes: string[] = [];
    for (const w of writers) {
      Reflect.set(Deno, w, (...args: unknown[]) => {
        writes.push(`${w}(${args[0]})`);
        throw new Error(`${w} during a search`);
      });
    }
    try {
      const responses = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          fetch(`http://127.0.0.1:${port}/api/search?k=5`, {
            method: "POST",
            body: i % 2 ? png : form({ image: new Blob([png]) }),
          })),
      );
      const bodies = await Promise.all(responses.map((r) => r.json()));
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
      assert.ok(bodies.every((b) => JSON.stringify(b) === JSON.stringify(bodies[0])), "identical");
    } finally {
      for (const [w, f] of saved) Reflect.set(Deno, w, f);
    }
    assert.deepEqual(writes, []);
    await server.shutdown();
  },
);

gpuTest(
  "deno task serve starts on the demo's checkpoint and collection when given none",
  async () => {
    const demo = await demoFixture();
    const root = new URL("..", import.meta.url).pathname, cwd = await Deno.makeTempDir();
    await Deno.mkdir(`${cwd}/logs/demo/checkpoints`, { recursive: true });
    await Deno.copyFile(demo.checkpoint, `${cwd}/logs/demo/checkpoints/best.safetensors`);
    await Deno.copyFile(demo.collection, `${cwd}/logs/demo/embeddings.safetensors`);
    await Deno.mkdir(`${cwd}/weights`);
    await Deno.symlink(`${root}weights/demo`, `${cwd}/weights/demo`);
    try {
      await using serve = await startServe([], cwd);
      const { url } = serve;
      const status = await (await fetch(`${url}api/status`)).json();
      assert.equal(status.checkpoint, "logs/demo/checkpoints/best.safetensors");
      assert.equal(status.collection, "logs/demo/embeddings.safetensors");
      assert.equal(status.weights, "weights/demo");
      const page = await fetch(url);
      assert.ok((await page.text()).includes("<title>Chest X-ray retrieval</title>"));
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
);
