/**
 * `deno task search` (alias `deno task query`): search a collection with a chest X-ray
 * (`--image`, its most similar reports) or a report (`--text`, its most similar images) through
 * a trained checkpoint. Prints rank, score, label and the report on one line (or the image
 * path), and the query's probability of abnormal; `--json` prints the result as JSON. Without
 * `--checkpoint` and `--collection` it searches the demo that `deno task train` wrote;
 * `--index postgres://…` searches a table `deno task index` wrote instead (`--table`,
 * `--ef-search`). `--where label=abnormal|split=test|patient!=<id>` and `--exclude-patient <id>`
 * filter the hits, with either backend. The query goes through the frozen encoders the collection
 * was embedded with (`--weights`, found among `weights/` and `weights/demo/` when not given); a
 * collection from other towers, or a table of another head, is refused.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { openSearch, type SearchOptions, type SearchResult } from "../retrieval/search.ts";
import { parseWhere, type StudyFilter } from "../retrieval/search_index.ts";

/** The demo's files, written by `deno task train`. */
export const DEMO_SEARCH = {
  checkpoint: "logs/demo/checkpoints/best.safetensors",
  collection: "logs/demo/embeddings.safetensors",
} as const;

/**
 * The flags naming what is searched (`parseArgs` options), shared with `deno task serve`; read
 * them with {@link searchSource}.
 * @example
 * ```ts
 * import { parseArgs } from "node:util";
 * const { values } = parseArgs({ args: ["--weights", "weights/demo"], options: SEARCH_FLAGS });
 * values.checkpoint; // "logs/demo/checkpoints/best.safetensors"
 * ```
 */
export const SEARCH_FLAGS = {
  checkpoint: { type: "string", default: DEMO_SEARCH.checkpoint },
  collection: { type: "string" },
  index: { type: "string" },
  table: { type: "string" },
  "ef-search": { type: "string" },
  weights: { type: "string" },
} as const;

/**
 * What {@link SEARCH_FLAGS} name, as `openSearch` options: `--index` (with `--table`,
 * `--ef-search`) or `--collection` (the demo's when neither is given), never both.
 * @example
 * ```ts
 * searchSource({ checkpoint: "c.safetensors", index: "postgres://u@db/x", "ef-search": "200" });
 * // { checkpoint: "c.safetensors", weights: undefined, index: "postgres://u@db/x", table: undefined, efSearch: 200 }
 * ```
 */
export function searchSource(values: {
  checkpoint: string;
  collection?: string;
  index?: string;
  table?: string;
  "ef-search"?: string;
  weights?: string;
}): Pick<SearchOptions, "checkpoint" | "collection" | "index" | "table" | "efSearch" | "weights"> {
  const { checkpoint, weights } = values;
  if (values.index === undefined) {
    for (const flag of ["table", "ef-search"] as const) {
      if (values[flag] !== undefined) throw new Error(`--${flag} goes with --index postgres://…`);
    }
    return { checkpoint, weights, collection: values.collection ?? DEMO_SEARCH.collection };
  }
  if (values.collection !== undefined) {
    throw new Error("give --collection or --index, not both");
  }
  const ef = values["ef-search"] === undefined ? undefined : Number(values["ef-search"]);
  return { checkpoint, weights, index: values.index, table: values.table, efSearch: ef };
}

const USAGE = `usage: deno task search (--image <x.png|jpg> | --text "<report>") [--k 10] [--json]
       [--checkpoint ${DEMO_SEARCH.checkpoint}] [--weights <folder>]
       [--collection ${DEMO_SEARCH.collection}
        | --index postgres://user@host[:port]/db [--table cxr_studies] [--ef-search 100]]
       [--where label=normal|abnormal] [--where split=train|validation|test]
       [--where patient!=<id>] [--exclude-patient <id>]`;

/** Options of {@link runSearch}. */
export interface SearchCliOptions
  extends Pick<SearchOptions, "collection" | "index" | "table" | "efSearch" | "weights"> {
  /** Projector checkpoint. */
  checkpoint: string;
  /** Query image file (image → reports). */
  image?: string;
  /** Query report (report → images). */
  text?: string;
  /** Results. */
  k: number;
  /** Which studies may be returned. */
  where?: StudyFilter;
}

/**
 * Opens the search, runs one query and closes it.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "../retrieval/demo_collection.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection(); // 24 SYNTHETIC studies
 *   const { checkpoint, collection } = demo;
 *   const result = await runSearch({ checkpoint, collection, image: demo.imagePaths[0], k: 3 });
 *   console.log(formatResult(result, 100)); // 3 reports, best first
 *   await demo.remove();
 * }
 * ```
 */
export async function runSearch(o: SearchCliOptions): Promise<SearchResult> {
  if (!o.image === !o.text) throw new Error("give exactly one of --image and --text");
  await using search = await openSearch(o);
  const options = { where: o.where };
  return o.image !== undefined
    ? await search.searchByImage(o.image, o.k, options)
    : await search.searchByText(o.text!, o.k, options);
}

/**
 * The result as terminal lines of at most `width` characters: the query's estimate, then one
 * line per hit (rank, score, label, id, and the report on one line or the image path).
 * @example
 * ```ts
 * const hit = {
 *   rank: 1, id: "s7", row: 6, score: 0.8123, label: "abnormal" as const, findings: ["effusion"],
 *   report: "Small left\npleural effusion.", imagePaths: ["s7.png"], imagePath: null,
 *   patientId: "p3", split: "test" as const,
 * };
 * formatResult({ query: "image", abnormal: 0.93, hits: [hit] }, 60);
 * // query: image, probability of abnormal 0.930 (BCE head)
 * // reports most similar:
 * //   1  0.8123  abnormal  s7  Small left pleural effusion.
 * ```
 */
export function formatResult(result: SearchResult, width: number): string {
  const lines = [
    `query: ${result.query === "image" ? "image" : "report"}, probability of abnormal ` +
    `${result.abnormal.toFixed(3)} (BCE head)`,
    `${result.query === "image" ? "reports" : "images"} most similar:`,
  ];
  for (const h of result.hits) {
    const what = result.query === "image"
      ? (h.report ?? "(no report text in the collection)").replace(/\s+/g, " ").trim()
      : h.imagePath ?? "(no image path in the collection)";
    const line = `${String(h.rank).padStart(3)}  ${h.score.toFixed(4)}  ${h.label.padEnd(8)}  ` +
      `${h.id}  ${what}`;
    lines.push(line.length > width ? `${line.slice(0, width - 1)}…` : line);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        ...SEARCH_FLAGS,
        image: { type: "string" },
        text: { type: "string" },
        k: { type: "string", default: "10" },
        json: { type: "boolean", default: false },
        where: { type: "string", multiple: true, default: [] },
        "exclude-patient": { type: "string" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    if (!values.image === !values.text) throw new Error(`give --image or --text\n${USAGE}`);
    const where = parseWhere(values.where);
    const patient = values["exclude-patient"];
    if (patient !== undefined) where.excludePatient = patient;
    const { image, text } = values;
    const result = await runSearch({
      ...searchSource(values),
      image,
      text,
      k: Number(values.k),
      where,
    });
    const width = Deno.stdout.isTerminal() ? Deno.consoleSize().columns : 120;
    console.log(values.json ? JSON.stringify(result, null, 2) : formatResult(result, width));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
