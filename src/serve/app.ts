/**
 * The local web app's request handler: the page, a JSON search API, the collection's images and
 * a status document. It holds one {@link CollectionSearch}; every failure becomes a response
 * (4xx with a message for a bad request, 500 for the server's own fault), never a crash.
 *
 * Routes:
 * - `GET /`: the page (`page.html`, self-contained: no script, style or font from elsewhere);
 * - `POST /api/search`: an image or a report (bodies: `upload.ts`) → `{ query, abnormal, hits }`,
 *   each hit with `imageUrl` (the image that matched, report queries) and `imageUrls` (its
 *   study's images);
 * - `GET /image/<n>`: image n of the collection (the files its studies list, in order) and no
 *   other file;
 * - `GET /api/status`: what is searched, and the server's memory;
 * - `GET /local/…`: what the page's private search downloads to run queries in the browser
 *   (`local_files.ts`): its script, the kernels, the heads and projected collection, the towers.
 *
 * @module
 */

import type { CollectionSearch } from "../retrieval/search.ts";
import { SearchInputError } from "../retrieval/search.ts";
import type { SearchHit } from "../retrieval/search_index.ts";
import { localFiles } from "./local_files.ts";
import { imageType, parseSearchRequest, RequestError } from "./upload.ts";

/** Options of {@link searchApp}. */
export interface AppOptions {
  /** Largest upload in bytes (default 20 MB). */
  maxUploadBytes?: number;
  /** k when a request gives none (default 10). */
  defaultK?: number;
  /** Receives the server's own errors (default `console.error`). */
  log?: (message: string) => void;
}

/** A hit as the API returns it: the study's facts and where its images are served. */
export interface ApiHit extends SearchHit {
  /** URL of the image that matched (report queries), else null. */
  imageUrl: string | null;
  /** URLs of the study's images. */
  imageUrls: string[];
}

/** Headers of every response: nothing is framed, sniffed or cached by a shared cache. */
const BASE_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/**
 * Only this origin's resources; the page's inline script and style, the private search's script
 * and its WebAssembly; uploads shown as blobs.
 */
const PAGE_CSP = "default-src 'none'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; " +
  "style-src 'unsafe-inline'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; " +
  "form-action 'none'";

/**
 * The handler of the web app over `search`.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "../retrieval/demo_collection.ts";
 * import { openSearch } from "../retrieval/search.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection();
 *   await using search = await openSearch(demo);
 *   const handle = searchApp(search);
 *   const response = await handle(
 *     new Request("http://localhost/api/search?k=3", {
 *       method: "POST",
 *       body: await Deno.readFile(demo.imagePaths[0]), // an X-ray's bytes
 *     }),
 *   );
 *   const { query, abnormal, hits } = await response.json(); // "image", its estimate, 3 reports
 *   await demo.remove();
 * }
 * ```
 */
export function searchApp(
  search: CollectionSearch,
  options: AppOptions = {},
): (request: Request) => Promise<Response> {
  const limits = {
    maxBytes: options.maxUploadBytes ?? 20 * 2 ** 20,
    defaultK: options.defaultK ?? 10,
  };
  const log = options.log ?? console.error;
  let page: Promise<string> | null = null; // read on the first request for it
  // The collection's image files, listed on first need (a PostgreSQL table is asked once).
  let listed: Promise<{ files: string[]; index: Map<string, number> }> | null = null;
  const imageFiles = () =>
    listed ??= search.imageFiles().then(
      (files) => ({ files, index: new Map(files.map((f, i) => [f, i])) }),
      (e) => {
        listed = null; // asked again on the next request
        throw e;
      },
    );
  /** The URL of each collection image file, null for any other path. */
  const imageUrl = async () => {
    const { index } = await imageFiles();
    return (path: string) => {
      const n = index.get(path);
      return n === undefined ? null : `/image/${n}`;
    };
  };
  const local = localFiles(search, imageUrl);
  const withUrls = async (h: SearchHit): Promise<ApiHit> => {
    const url = await imageUrl();
    return {
      ...h,
      imageUrl: h.imagePath === null ? null : url(h.imagePath),
      imageUrls: h.imagePaths.map(url).filter((u) => u !== null),
    };
  };

  const routes = async (request: Request, path: string): Promise<Response> => {
    const get = request.method === "GET" || request.method === "HEAD";
    if (path === "/" && get) {
      page ??= Deno.readTextFile(new URL("./page.html", import.meta.url));
      return new Response(await page, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": PAGE_CSP,
        },
      });
    }
    if (path === "/api/search") {
      if (request.method !== "POST") throw new RequestError(405, "POST a search to /api/search");
      const q = await parseSearchRequest(request, limits);
      try {
        const result = q.kind === "image"
          ? await search.searchByImage(q.bytes, q.k)
          : await search.searchByText(q.text, q.k);
        return json({ ...result, hits: await Promise.all(result.hits.map(withUrls)) });
      } catch (e) {
        if (!(e instanceof SearchInputError)) throw e;
        const name = q.kind === "image" ? q.name : "the report";
        throw new RequestError(422, e.message.replace(/^the query (image|report)/, name));
      }
    }
    const image = path.match(/^\/image\/(\d{1,9})$/);
    if (image && get) {
      const file = (await imageFiles()).files[Number(image[1])];
      if (file === undefined) throw new RequestError(404, `no image ${image[1]} in the collection`);
      const bytes = await Deno.readFile(file).catch(() => {
        throw new RequestError(404, `image ${image[1]} of the collection cannot be read`);
      });
      const type = imageType(bytes);
      if (!type) throw new RequestError(404, `image ${image[1]} of the collection is not PNG/JPEG`);
      return new Response(bytes, {
        headers: { "content-type": type, "cache-control": "private, max-age=3600" },
      });
    }
    if (path.startsWith("/local/") && get) return await local(path);
    if (path === "/api/status" && get) {
      return json({ ...search.info, memory: Deno.memoryUsage() });
    }
    throw new RequestError(404, `nothing at ${request.method} ${path}`);
  };

  return async (request) => {
    let response: Response;
    try {
      response = await routes(request, new URL(request.url).pathname);
    } catch (e) {
      if (e instanceof RequestError) {
        response = json({ error: e.message }, e.status);
      } else {
        log(`serve: ${request.method} ${request.url}: ${(e as Error).stack ?? e}`);
        response = json({ error: `the server failed: ${(e as Error).message}` }, 500);
      }
    }
    for (const [k, v] of Object.entries(BASE_HEADERS)) response.headers.set(k, v);
    return response;
  };
}

/** A JSON response. */
function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}
