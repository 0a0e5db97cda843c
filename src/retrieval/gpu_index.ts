/**
 * The GPU exact index, one of the two {@link SearchIndex} backends: a projected collection on the
 * GPU (reports, and images: one row per image when the collection keeps per-image embeddings,
 * else each study's mean image), scored exactly against every row.
 *
 * Filters are exact too. A label or split filter searches a sub-index of the rows it allows,
 * uploaded on its first use and kept until {@link GpuExactIndex.close} (one per filter and
 * modality: at most 24, each no larger than the collection). Patient exclusion asks for the top
 * k + m, m being the patient's rows among those searched, and drops the patient's: at least k
 * others remain, and they are the exact top k of the rows allowed. When k + m passes the top-k
 * kernel's 64, the query runs on a one-off sub-index without the patient's rows instead.
 *
 * @module
 */

import { type EmbeddingSet, selectRows } from "../io/embeddings.ts";
import type { Tower } from "../model/head_graph.ts";
import type { Projector } from "../model/projector.ts";
import { TOP_K_MAX } from "../ops/retrieval.ts";
import { studyHit } from "./answer.ts";
import { type Hit, Retriever } from "./retriever.ts";
import {
  hasFilter,
  type IndexSearchOptions,
  type SearchHit,
  type SearchIndex,
  SPLIT_NAMES,
  type StudyFilter,
} from "./search_index.ts";

/** The projections of a collection's reports [studies, outDim] and images [images, outDim]. */
export type Projections = Readonly<Record<Tower, Float32Array<ArrayBuffer>>>;

/** One modality's rows: their study, image file and projections, on the GPU in full. */
interface Rows {
  study: Int32Array;
  imagePath: (string | null)[];
  projections: Float32Array<ArrayBuffer>;
  all: Retriever;
}

/** A subset of a modality's rows on the GPU; `rows[i]` is the modality row of its item i. */
interface Subset {
  retriever: Retriever | null;
  rows: Uint32Array;
}

/**
 * The collection's report and image projections on the GPU, searched exactly. It holds GPU
 * buffers until {@link GpuExactIndex.close}; the projector stays the caller's.
 * @example
 * ```ts
 * import { syntheticEmbeddings } from "../data/synthetic_embeddings.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { initialParameters } from "../model/init.ts";
 * import { ParameterLayout } from "../model/parameters.ts";
 * import { Projector } from "../model/projector.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const o = { count: 20, dim: 8, latent: 4, noise: 0.2, validation: 0, test: 0.5, seed: 3 };
 *   const set = syntheticEmbeddings(o); // 20 SYNTHETIC studies, no study facts
 *   const head = { inDim: 8, hidden: 16, outDim: 4, layers: 2, dropout: 0 };
 *   const identity = { mean: new Float32Array(8), std: new Float32Array(8).fill(1) };
 *   const params = initialParameters(new ParameterLayout(head), 42);
 *   const projector = new Projector(gpu, head, params, { image: identity, text: identity });
 *   const text = await projector.project("text", set.text, set.count);
 *   const image = await projector.project("image", set.image, set.count);
 *   const index = await GpuExactIndex.create(projector, set, {
 *     text: text as Float32Array<ArrayBuffer>,
 *     image: image as Float32Array<ArrayBuffer>,
 *   });
 *   const [hits] = await index.search("text", image.slice(0, 4), 1, 3, { where: { split: "test" } });
 *   hits.map((h) => h.split); // ["test", "test", "test"]
 *   await index.close();
 * }
 * ```
 */
export class GpuExactIndex implements SearchIndex {
  /** Width of the projections. */
  readonly dim: number;
  /** Reports (one per study) and image rows. */
  readonly sizes: Readonly<Record<Tower, number>>;
  readonly #projector: Projector;
  readonly #set: EmbeddingSet;
  /** What hits are described with: the collection's ids, labels, studies and split names. */
  readonly described: Parameters<typeof studyHit>[0];
  readonly #rows: Record<Tower, Rows>;
  readonly #subsets = new Map<string, Promise<Subset>>();

  private constructor(projector: Projector, set: EmbeddingSet, rows: Record<Tower, Rows>) {
    this.#projector = projector;
    this.#set = set;
    this.described = { ...set, splits: Array.from(set.split, (c) => SPLIT_NAMES[c]) };
    this.#rows = rows;
    this.dim = projector.head.outDim;
    this.sizes = { text: rows.text.study.length, image: rows.image.study.length };
  }

  /**
   * Uploads `set`'s projections (by `projector`'s heads): reports [set.count, outDim], and images
   * [images, outDim], one row per image of `set.images` when it has them, else per study.
   */
  static async create(
    projector: Projector,
    set: EmbeddingSet,
    projections: Projections,
  ): Promise<GpuExactIndex> {
    const imageStudy = set.images?.study ?? Int32Array.from(set.ids, (_, i) => i);
    const textStudy = Int32Array.from(set.ids, (_, i) => i);
    const paths = set.studies
      ? set.images
        ? set.studies.flatMap((s) => s.imagePaths)
        : set.studies.map((s) => s.imagePaths[0] ?? null)
      : [];
    const upload = async (tower: Tower, study: Int32Array): Promise<Rows> => ({
      study,
      imagePath: tower === "image" ? Array.from(study, (_, i) => paths[i] ?? null) : [],
      projections: projections[tower],
      all: await Retriever.fromProjections(
        projector,
        tower,
        projections[tower],
        Array.from(study, (s) => set.ids[s]),
      ),
    });
    const text = await upload("text", textStudy);
    try {
      return new GpuExactIndex(projector, set, { text, image: await upload("image", imageStudy) });
    } catch (e) {
      text.all.dispose();
      throw e;
    }
  }

  /** One modality's rows as uploaded: their retriever, each row's study and image file. */
  view(tower: Tower): { retriever: Retriever; study: Int32Array; imagePath: (string | null)[] } {
    const { all, study, imagePath } = this.#rows[tower];
    return { retriever: all, study, imagePath };
  }

  /**
   * The `k` (1..64) nearest studies to each of `count` projected queries, best first, exactly;
   * see the module for how filters are applied.
   */
  async search(
    over: Tower,
    queries: Float32Array,
    count: number,
    k: number,
    options: IndexSearchOptions = {},
  ): Promise<SearchHit[][]> {
    if (!(Number.isInteger(k) && k >= 1 && k <= TOP_K_MAX)) {
      throw new RangeError(
        `GpuExactIndex.search: k must be an integer in 1..${TOP_K_MAX}, got ${k}`,
      );
    }
    const where = options.where ?? {}, rows = this.#rows[over];
    const q = queries.buffer instanceof ArrayBuffer
      ? queries as Float32Array<ArrayBuffer>
      : Float32Array.from(queries);
    const subset = hasFilter({ ...where, excludePatient: undefined })
      ? await this.#subset(over, where)
      : { retriever: rows.all, rows: null };
    if (!subset.retriever) return Array.from({ length: count }, () => []);
    const itemRow = (i: number) => subset.rows ? subset.rows[i] : i;
    const patient = where.excludePatient;
    const own = (row: number) => this.#patientOf(rows.study[row]) === patient;
    const size = subset.retriever.size;
    let m = 0;
    if (patient !== undefined) { for (let i = 0; i < size; i++) m += own(itemRow(i)) ? 1 : 0; }
    const fetch = Math.min(k + m, size);
    if (fetch > TOP_K_MAX) {
      // Too many of the patient's rows to over-fetch: a one-off sub-index without them.
      const kept = Uint32Array.from(
        Array.from({ length: size }, (_, i) => itemRow(i)).filter((r) => !own(r)),
      );
      using once = await this.#upload(over, kept);
      if (!once) return Array.from({ length: count }, () => []);
      const found = await once.queryProjected(q, count, Math.min(k, once.size));
      return found.map((list) =>
        this.#hits(over, list.map((h) => ({ ...h, index: kept[h.index] })))
      );
    }
    const found = await subset.retriever.queryProjected(q, count, fetch);
    return found.map((list) =>
      this.#hits(
        over,
        list.map((h) => ({ ...h, index: itemRow(h.index) }))
          .filter((h) => patient === undefined || !own(h.index)).slice(0, k),
      )
    );
  }

  /** Every image file of the collection, its studies in row order. */
  imageFiles(): Promise<string[]> {
    return Promise.resolve(this.#set.studies?.flatMap((s) => s.imagePaths) ?? []);
  }

  /** Frees the GPU buffers (the full collection's and every sub-index's). */
  async close(): Promise<void> {
    this.#rows.text.all.dispose();
    this.#rows.image.all.dispose();
    for (const s of this.#subsets.values()) (await s.catch(() => null))?.retriever?.dispose();
    this.#subsets.clear();
  }

  /** The sub-index of the rows a label/split filter allows (made on first use). */
  #subset(over: Tower, where: StudyFilter): Promise<Subset> {
    const key = `${over} ${where.label ?? "*"} ${where.split ?? "*"}`;
    let subset = this.#subsets.get(key);
    if (!subset) {
      const { label, split } = where, set = this.#set;
      const rows = Uint32Array.from(
        Array.from(this.#rows[over].study.keys()).filter((r) => {
          const s = this.#rows[over].study[r];
          return (label === undefined || (set.label[s] === 1) === (label === "abnormal")) &&
            (split === undefined || SPLIT_NAMES[set.split[s]] === split);
        }),
      );
      subset = this.#upload(over, rows).then((retriever) => ({ retriever, rows }));
      this.#subsets.set(key, subset);
    }
    return subset;
  }

  /** A Retriever over the given rows of one modality; null when there are none. */
  async #upload(over: Tower, rows: Uint32Array): Promise<Retriever | null> {
    if (rows.length === 0) return null;
    const { projections, study } = this.#rows[over];
    const ids = Array.from(rows, (r) => this.#set.ids[study[r]]);
    const values = selectRows(projections, rows, this.dim);
    return await Retriever.fromProjections(this.#projector, over, values, ids);
  }

  #patientOf(study: number): string | null {
    return this.#set.studies?.[study].patientId ?? null;
  }

  /** Search hits of modality rows, best first. */
  #hits(over: Tower, found: Hit[]): SearchHit[] {
    const rows = this.#rows[over];
    return found.map((h, i) =>
      studyHit(this.described, i + 1, h.score, rows.study[h.index], {
        imagePath: over === "image" ? rows.imagePath[h.index] : null,
      })
    );
  }
}
