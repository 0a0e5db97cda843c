/**
 * `deno task eval`'s HTML report, written beside `eval.json`: every row's metrics (a column per
 * model), a bar chart of the retrieval metrics per direction, the screening ROC curves of the
 * checkpoint rows per modality, t-SNE pictures of the image and report embeddings (no head and
 * one checkpoint), the sizes, the split, the definitions and the notes.
 *
 * @module
 */

import { type Chart, renderChart } from "./chart_render.ts";
import { metricBarsChart, rocChart, type TsnePanel } from "./chart_specs.ts";
import type { EvalResult } from "./evaluate_models.ts";
import { type FigureSection, type SplitSummary, writeReport } from "./report_html.ts";
import { tsneCharts } from "./tsne_panels.ts";

/** The bars of each direction: axis label → metric name after `<direction>_`. */
export const BAR_METRICS: readonly (readonly [string, string])[] = [
  ["R@1", "R@1"],
  ["R@5", "R@5"],
  ["R@10", "R@10"],
  ["MRR", "MRR"],
  ["P@10", "label_P@10"],
  ["mAP@10", "label_mAP@10"],
  ["nDCG@10", "label_nDCG@10"],
  ["findings mAP@10", "findings_mAP@10"],
  ["findings nDCG@10", "findings_nDCG@10"],
];

const DIRECTIONS = [
  ["image_to_text", "Image → report retrieval"],
  ["text_to_image", "Report → image retrieval"],
] as const;

const MODALITIES = [["image", "image"], ["text", "report"]] as const;

/** What the report's terms mean (the README's Metrics and Screening sections say more). */
const DEFINITIONS: [string, string][] = [
  [
    "rank",
    "Of the paired item among all candidates of the split, 1-based; every candidate with the " +
    "same score counts against the query (pessimistic ties).",
  ],
  ["R@k", "Share of queries whose paired item ranks in the top k."],
  ["mean / median rank", "Of the paired item's rank over the queries."],
  ["MRR", "Mean of 1 / rank of the paired item."],
  ["label P@K", "Share of the top K results whose normal/abnormal label is the query's."],
  [
    "label mAP@K",
    "Mean over queries of the average precision at the relevant results of the top K, divided " +
    "by min(K, relevant candidates); 0 for a query with none.",
  ],
  [
    "label nDCG@K",
    "Discounted gain of the top K (1 / log2(position + 1) per relevant result) over that of " +
    "the ideal order.",
  ],
  [
    "findings …",
    "The same with graded relevance: the Jaccard overlap of the two finding sets (only where " +
    "the data has finding labels).",
  ],
  [
    "screening",
    "The BCE head's probability of abnormal; accuracy, sensitivity (abnormal called abnormal) " +
    "and specificity (normal called normal) at the threshold; abnormal is the positive class.",
  ],
  [
    "AUROC",
    "Probability that a random abnormal study scores above a random normal one (ties count " +
    "one half): the area under the ROC curve.",
  ],
  [
    "t-SNE",
    "A 2-D layout that keeps each study's nearest neighbours (cosine distances, perplexity " +
    "30); distances between clusters mean little, separation of the colours does.",
  ],
];

/** What {@link writeEvalReport} shows besides the result. */
export interface EvalReportExtras {
  /** Sizes of every split of the embeddings file. */
  splits?: SplitSummary[];
  /** t-SNE pictures (`evalTsnePanels`): no-head image, report, then a checkpoint's. */
  tsne?: TsnePanel[];
}

/** The grouped bar chart of one direction, or null when no row has any of its metrics. */
function directionBars(result: EvalResult, direction: string, title: string): Chart | null {
  const present = BAR_METRICS.filter(([, m]) =>
    result.rows.some((r) => r.metrics[`${direction}_${m}`] !== undefined)
  );
  if (present.length === 0) return null;
  return metricBarsChart(
    `bars_${direction}`,
    title,
    result.rows.map((r) => ({
      name: r.name,
      values: present.map(([label, m]) => [label, r.metrics[`${direction}_${m}`] ?? NaN]),
    })),
    "P, mAP and nDCG: relevant means the same normal/abnormal label (findings: overlapping " +
      "findings).",
  );
}

/** The ROC chart of one modality over the checkpoint rows with a curve, or null if none has. */
function modalityRoc(result: EvalResult, tower: "image" | "text", what: string): Chart | null {
  const curves = result.rows.filter((r) => r.roc?.[tower].length).map((r) => ({
    name: r.name,
    points: r.roc![tower],
    auroc: r.metrics[`${tower}_screening_AUROC`],
  }));
  if (curves.length === 0) return null;
  return rocChart(
    `roc_${tower}`,
    `Screening ROC, ${what} embeddings`,
    curves,
    `The BCE head's probability of abnormal for each ${what}; the dashed line is chance.`,
  );
}

/**
 * Writes `dir/report.html` for an evaluation, with its charts' PNGs beside it (`bars_*`,
 * `roc_*`, `tsne_*`); returns the report's path.
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeEvalReport(dir, {
 *   definitions: "cxr-eval/1", tieRule: "pessimistic", unit: "study", embeddings: "e.safetensors",
 *   synthetic: true, split: "test", count: 2, relevance: ["label"], screeningThreshold: 0.5,
 *   notes: [], rows: [{
 *     name: "no head", kind: "encoder", source: "", metrics: { "image_to_text_R@1": 0.5 },
 *   }],
 * }); // `${dir}/report.html` and `${dir}/bars_image_to_text.png`
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeEvalReport(
  dir: string,
  result: EvalResult,
  extras: EvalReportExtras = {},
): Promise<string> {
  const section = async (heading: string, charts: (Chart | null)[], intro?: string) => {
    const drawn = charts.filter((c): c is Chart => c !== null);
    return drawn.length
      ? [{ heading, intro, figures: await Promise.all(drawn.map(renderChart)) }]
      : [];
  };
  const [encoderImage, encoderReport, checkpointImage, checkpointReport] = extras.tsne ?? [];
  const tsne = tsneCharts(
    ([
      ["tsne_image_no_head", encoderImage],
      ["tsne_image_checkpoint", checkpointImage],
      ["tsne_report_no_head", encoderReport],
      ["tsne_report_checkpoint", checkpointReport],
    ] as [string, TsnePanel | undefined][]).filter((e): e is [string, TsnePanel] => !!e[1]),
  );
  const figures: FigureSection[] = [
    ...await section(
      "Retrieval by direction",
      DIRECTIONS.map(([d, title]) => directionBars(result, d, title)),
    ),
    ...await section(
      "Screening",
      MODALITIES.map(([tower, what]) => modalityRoc(result, tower, what)),
      `Normal/abnormal screening by the checkpoints' BCE heads on the ${result.split} split; a ` +
        `study is called abnormal at a probability ≥ ${result.screeningThreshold}.`,
    ),
    ...await section(
      "t-SNE of the embeddings",
      tsne,
      "The split's image and report embeddings with no head (the frozen encoder's) and " +
        "projected by a checkpoint's heads, coloured normal/abnormal.",
    ),
  ];
  const synthetic = result.synthetic ? "SYNTHETIC " : "";
  const paths = await writeReport(dir, {
    title: "Image–report retrieval and screening: evaluation",
    subtitle: `${synthetic}${result.embeddings}, ${result.split} split, ${result.count} studies`,
    dataset: {
      name: result.embeddings,
      description: result.synthetic
        ? "SYNTHETIC embeddings (the file says so): the numbers say nothing about real X-rays."
        : undefined,
      splits: extras.splits ?? [],
      facts: {
        "evaluated split": result.split,
        "studies evaluated": result.count,
        unit: result.unit === "study" ? "per study" : result.unit,
        relevance: result.relevance.join(", "),
        "tie rule": result.tieRule,
        "screening threshold": result.screeningThreshold,
        definitions: result.definitions,
      },
    },
    metrics: Object.fromEntries(result.rows.map((r) => [r.name, r.metrics])),
    metricsSplit: result.split,
    metricsIntro: `Every metric of every row of eval.json, a column per model, on the ` +
      `${result.split} split (${result.count} studies, each a query in both directions).`,
    figures,
    definitions: DEFINITIONS,
    config: Object.fromEntries(result.rows.map((r) => [r.name, r.source || "–"])),
    configHeading: "Models",
    notes: result.notes,
  });
  return paths[0];
}
