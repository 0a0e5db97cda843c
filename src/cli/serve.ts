/**
 * `deno task serve`: the search as a local web app. Drop or choose an X-ray, or paste a report,
 * and see the most similar reports or images with scores, labels and the query's estimate;
 * `POST /api/search` is the same as JSON. Without `--checkpoint` and `--collection` it serves
 * the demo `deno task train` wrote; `--index postgres://…` (`--table`, `--ef-search`) serves a
 * table `deno task index` wrote. Listens on 127.0.0.1 unless `--host` says otherwise.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { openSearch } from "../retrieval/search.ts";
import { serveSearch } from "../serve/server.ts";
import { DEMO_SEARCH, SEARCH_FLAGS, searchSource } from "./search.ts";

const USAGE = `usage: deno task serve [--checkpoint ${DEMO_SEARCH.checkpoint}] [--weights <folder>]
       [--collection ${DEMO_SEARCH.collection}
        | --index postgres://user@host[:port]/db [--table cxr_studies] [--ef-search 100]]
       [--host 127.0.0.1] [--port 8000] [--max-upload-mb 20]`;

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        ...SEARCH_FLAGS,
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "8000" },
        "max-upload-mb": { type: "string", default: "20" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    const port = Number(values.port), mb = Number(values["max-upload-mb"]);
    if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
      throw new Error(`--port must be an integer from 0 to 65535, got ${values.port}`);
    }
    if (!(mb > 0)) throw new Error(`--max-upload-mb must be > 0, got ${values["max-upload-mb"]}`);
    const search = await openSearch(searchSource(values));
    const { info } = search;
    const index = info.backend === "pgvector"
      ? "PostgreSQL + pgvector"
      : `index ${info.index.cached ? "from the cache" : "projected"}`;
    console.log(
      `${info.collection}: ${info.studies} studies, ${info.images} images; checkpoint ` +
        `${info.checkpoint}; ${index}`,
    );
    serveSearch(search, {
      hostname: values.host,
      port,
      maxUploadBytes: Math.round(mb * 2 ** 20),
    });
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
