/**
 * Draws a SYNTHETIC chest-radiograph-like grayscale image of a {@link SyntheticStudy}: an
 * attenuation map (soft tissue, aerated lungs with vessel markings, heart, mediastinum and spine,
 * diaphragm domes with sharp costophrenic angles, stomach bubble, ribs, clavicles)
 * plus the findings (effusion with a meniscus, enlarged heart, patchy consolidation, round
 * nodule, pneumothorax with a pleural line and no markings beyond it), blurred slightly, passed
 * through a tone curve, with film noise. Fast: one pass over the pixels plus a few
 * per-column passes; no allocation beyond a few buffers per image.
 *
 * @module
 */

import { Rng } from "../util/rng.ts";
import type { Anatomy, Side, SyntheticStudy, Zone } from "./synthetic_study.ts";

const TEX = 256; // side of the shared noise textures (power of two)
const LUNG_Y = 0.64; // below this y the hemithorax keeps its full width

let textures: { smooth: Float32Array; gauss: Float32Array } | undefined;

/** Shared noise textures: smooth value noise in [-1, 1] and N(0, 1) samples; seed-independent. */
function getTextures() {
  if (textures) return textures;
  const rng = new Rng(0x5eed);
  const smooth = new Float32Array(TEX * TEX);
  for (let octave = 0, cell = 32, amp = 0.55; octave < 4; octave++, cell /= 2, amp /= 2) {
    const n = TEX / cell;
    const grid = Float32Array.from({ length: n * n }, () => rng.uniform() * 2 - 1);
    for (let y = 0; y < TEX; y++) {
      const gy = y / cell, y0 = Math.floor(gy), ty = fade(gy - y0);
      for (let x = 0; x < TEX; x++) {
        const gx = x / cell, x0 = Math.floor(gx), tx = fade(gx - x0);
        const at = (a: number, b: number) => grid[((b % n) * n) + (a % n)];
        const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * tx;
        const bot = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * tx;
        smooth[y * TEX + x] += amp * (top + (bot - top) * ty);
      }
    }
  }
  const gauss = Float32Array.from({ length: TEX * TEX }, () => rng.normal());
  textures = { smooth, gauss };
  return textures;
}

function fade(t: number): number {
  return t * t * (3 - 2 * t);
}

/** 0 below -1, 1 above 1, smooth between. */
function ramp(t: number): number {
  if (t <= -1) return 0;
  if (t >= 1) return 1;
  const u = (t + 1) / 2;
  return u * u * (3 - 2 * u);
}

/** Where a zone of a lung is: x as a fraction of the way to the lateral wall, and y. */
function zoneCentre(a: Anatomy, side: Side, zone: Zone): { x: number; y: number } {
  const s = side === "right" ? -1 : 1;
  const d = a.diaphragm[side === "right" ? 0 : 1];
  const y = zone === "upper" ? a.apex + 0.13 : zone === "middle" ? 0.47 : d - 0.07;
  const f = zone === "middle" ? (side === "right" ? 0.5 : 0.72) : 0.55;
  return { x: a.cx + s * a.halfWidth * f, y };
}

/** The geometry of one image, as plain numbers for the per-pixel pass. */
interface Scene {
  a: Anatomy;
  heart: Anatomy["heart"];
  /** Fluid top y per side (right, left); 0 for none. */
  effusion: [number, number];
  consolidation: { x: number; y: number; r: number; seed: number } | null;
  nodule: { x: number; y: number; r: number } | null;
  /** Pneumothorax side (-1 right, 1 left, 0 none) and the gap to the chest wall. */
  ptx: { s: number; gap: number };
  /** Texture offsets. */
  ox: number;
  oy: number;
}

/**
 * Renders the study as `size × size` 8-bit grayscale pixels (row-major).
 * @example
 * ```ts
 * import { Rng } from "../util/rng.ts";
 * import { sampleAnatomy, sampleStudy } from "./synthetic_study.ts";
 * const study = sampleStudy(new Rng(2), sampleAnatomy(new Rng(1)));
 * const pixels = renderSyntheticCxr(study, 64); // 64 * 64 bytes
 * ```
 */
export function renderSyntheticCxr(study: SyntheticStudy, size: number): Uint8Array {
  const a = study.anatomy;
  const rng = new Rng(study.textureSeed);
  // the findings draw from their own stream, so adding one leaves texture and noise unchanged
  const findingRng = new Rng(study.textureSeed ^ 0x6a09e667);
  const scene: Scene = {
    a,
    heart: a.heart,
    effusion: [0, 0],
    consolidation: null,
    nodule: null,
    ptx: { s: 0, gap: 0 },
    ox: rng.int(TEX),
    oy: rng.int(TEX),
  };
  for (const f of study.findings) {
    if (f.kind === "cardiomegaly") {
      const k = { mild: 1.22, moderate: 1.36, marked: 1.5 }[f.severity];
      const h = a.heart;
      scene.heart = { ...h, rx: h.rx * k, ry: h.ry * (1 + (k - 1) * 0.45), x: h.x + 0.012 };
    } else if (f.kind === "pleural effusion") {
      const drop = { small: 0.035, moderate: 0.12, large: 0.22 }[f.size];
      if (f.side !== "left") scene.effusion[0] = a.diaphragm[0] - drop;
      if (f.side !== "right") scene.effusion[1] = a.diaphragm[1] - drop;
    } else if (f.kind === "consolidation") {
      const c = zoneCentre(a, f.side, f.zone);
      scene.consolidation = {
        ...c,
        r: 0.075 + findingRng.uniform() * 0.03,
        seed: findingRng.int(TEX),
      };
    } else if (f.kind === "nodule") {
      const c = zoneCentre(a, f.side, f.zone);
      const r = f.sizeMm * 0.0011; // ~350 mm across 0.7 of the image
      const x = c.x + (findingRng.uniform() - 0.5) * 0.05;
      const y = c.y + (findingRng.uniform() - 0.5) * 0.05;
      scene.nodule = { x, y, r };
    } else if (f.kind === "pneumothorax") {
      const gap = { small: 0.03, moderate: 0.055, large: 0.09 }[f.size];
      scene.ptx = { s: f.side === "right" ? -1 : 1, gap };
    }
  }
  const D = new Float32Array(size * size); // attenuation
  const vessels = new Float32Array(size * size);
  drawVessels(vessels, size, a, rng);
  shade(D, vessels, size, scene, getTextures().smooth);
  drawBones(D, size, a, rng);
  blur3(D, size);
  return expose(D, a, rng.int(TEX * TEX));
}

/** The per-pixel pass: body, lungs, heart, mediastinum, diaphragm, findings. */
function shade(D: Float32Array, vessels: Float32Array, S: number, sc: Scene, smooth: Float32Array) {
  // one call per row keeps the hot loop in a small function V8 optimizes fully
  for (let j = 0; j < S; j++) shadeRow(D, vessels, S, sc, smooth, j);
}

function shadeRow(
  D: Float32Array,
  vessels: Float32Array,
  S: number,
  sc: Scene,
  smooth: Float32Array,
  j: number,
): void {
  const { a, heart, effusion, consolidation, nodule, ptx } = sc;
  const px = 1 / S;
  const cosT = Math.cos(heart.tilt), sinT = Math.sin(heart.tilt);
  const lungY = LUNG_Y, lungB = lungY - a.apex, lungA = a.halfWidth / 2 + 0.012;
  {
    const v = (j + 0.5) * px;
    const bodyHalf = v < 0.01
      ? 0.085
      : v < 0.14
      ? 0.085 + 0.4 * fade((v - 0.01) / 0.13)
      : 0.485 + 0.03 * v;
    const med = a.mediastinum;
    const aortic = 0.028 * Math.exp(-(((v - 0.29) / 0.03) ** 2));
    const svc = 0.01 * ramp((v - 0.22) / 0.05);
    const trachea = ramp((0.36 - v) / 0.02) * 0.11;
    const spineRow = 0.045 * (0.85 + 0.15 * Math.cos(v * 140));
    const base = ramp((v - 0.45) / 0.25); // soft tissue over the lung bases
    const ey = (v - lungY) / lungB, ey2 = ey * ey;
    const row = j * S, trow = ((j + sc.oy) & (TEX - 1)) * TEX;
    for (let i = 0; i < S; i++) {
      const u = (i + 0.5) * px;
      const dx = u - a.cx, adx = dx < 0 ? -dx : dx, s = dx < 0 ? -1 : 1, side = dx < 0 ? 0 : 1;
      const body = ramp((bodyHalf - adx) / 0.012);
      const depth = adx < bodyHalf ? adx / bodyHalf : 1;
      let d = a.tissue * body * (0.5 + 0.5 * (1 - depth * depth * depth));
      // heart (rotated ellipse) and mediastinum
      const hx = u - heart.x, hy = v - heart.y;
      const hu = (hx * cosT + hy * sinT) / heart.rx, hv = (-hx * sinT + hy * cosT) / heart.ry;
      const heartIn = ramp((1 - Math.sqrt(hu * hu + hv * hv)) * heart.rx / (1.5 * px));
      const medIn = ramp((med + (s > 0 ? aortic : svc) - adx) / (1.5 * px)) *
        ramp((0.74 - v) / 0.02);
      // hemithorax: an ellipse whose centre lies low, so the lung is narrow at the apex and
      // widest at the base, cut by the diaphragm dome
      const ex = (u - a.cx - s * a.halfWidth * 0.5) / lungA;
      const rho = Math.sqrt(ex * ex + (v < lungY ? ey2 : 0));
      const chest = ramp((1 - rho) * lungA / (1.2 * px));
      const dn = adx / a.halfWidth;
      const dome = a.diaphragm[side] + 0.43 * (dn - 0.45) * (dn - 0.45);
      const above = ramp((dome - v) / (1.2 * px));
      const lung = chest * above * (1 - heartIn) * (1 - medIn);
      let ptxSpace = 0, pleuralLine = 0;
      if (s === ptx.s) {
        const line = 1 - ptx.gap / lungA;
        const w = Math.min(1, ramp((dn - 0.5) / 0.2) + ramp((a.apex + 0.15 - v) / 0.06));
        ptxSpace = lung * w * ramp((rho - line) * lungA / (1.2 * px));
        const t = (rho - line) * lungA / (0.8 * px);
        pleuralLine = lung * w * Math.exp(-t * t);
      }
      let fluid = 0;
      if (effusion[side] > 0) {
        const top = effusion[side] + 0.06 * (1 - dn) * (1 - dn);
        fluid = chest * ramp((v - top) / 0.03);
      }
      const t = smooth[trow + ((i + sc.ox) & (TEX - 1))];
      const airy = lung * (1 - fluid);
      d -= a.air * airy * (1 - 0.2 * base) * (1 + 0.08 * t);
      d -= 0.075 * ptxSpace * (1 - fluid);
      d += 0.1 * pleuralLine + 0.02 * lung * (1 - ptxSpace) * (ptx.s === s ? 1 : 0);
      d += vessels[row + i] * airy * (1 - ptxSpace);
      d += 0.01 * heartIn + 0.03 * medIn;
      d -= trachea * ramp((0.014 - Math.abs(dx + 0.004)) / (1.2 * px));
      d += spineRow * ramp((0.03 - adx) / (1.5 * px));
      d += (dx < 0 ? 0.05 : 0.02) * (1 - above) * body; // liver under the right dome
      const sx = (u - a.cx - 0.16) / 0.045, sy = (v - a.diaphragm[1] - 0.04) / 0.025;
      d -= 0.1 * ramp((1 - sx * sx - sy * sy) * 3) * (1 - above); // stomach bubble
      if (consolidation) {
        const cx = u - consolidation.x, cy = v - consolidation.y;
        const r2 = (cx * cx + cy * cy) / (consolidation.r * consolidation.r);
        if (r2 < 3) {
          const patch =
            smooth[((j * 2 + consolidation.seed) & (TEX - 1)) * TEX + ((i * 2) & (TEX - 1))];
          d += 0.26 * airy * Math.max(0, Math.exp(-r2) * 1.4 + patch * 0.9 - 0.35);
        }
      }
      if (nodule) {
        const nx = u - nodule.x, ny = v - nodule.y;
        d += 0.2 * lung * ramp((nodule.r - Math.sqrt(nx * nx + ny * ny)) / (1.2 * px));
      }
      D[row + i] = d;
    }
  }
}

/** Tone curve (a lookup table: ((d - 0.07) / 0.55) ^ gamma) and film noise to 8-bit pixels. */
function expose(D: Float32Array, a: Anatomy, g0: number): Uint8Array {
  const { gauss } = getTextures();
  const steps = 1024, lo = 0.07, hi = 0.62, top = 1;
  const curve = Float32Array.from(
    { length: steps + 1 },
    (_, n) => Math.min(1, Math.max(0, ((n / steps) * top - lo) / (hi - lo))) ** a.gamma,
  );
  const out = new Uint8Array(D.length);
  const mask = TEX * TEX - 1, scale = steps / top;
  for (let p = 0; p < D.length; p++) {
    const x = D[p] * scale;
    const value = curve[x <= 0 ? 0 : x >= steps ? steps : Math.round(x)] +
      a.noise * gauss[(g0 + p * 7) & mask];
    out[p] = value <= 0 ? 0 : value >= 1 ? 255 : Math.round(value * 255);
  }
  return out;
}

/** Branching vessel markings radiating from the hila, fading towards the periphery. */
function drawVessels(V: Float32Array, S: number, a: Anatomy, rng: Rng): void {
  for (const s of [-1, 1]) {
    const hx = a.cx + s * (a.mediastinum + 0.06), hy = 0.43;
    stamp(V, S, hx, hy, 0.028, 0.1); // hilum
    for (let n = 0; n < 11; n++) {
      // fan from up-lateral to down-lateral
      const spread = -1.25 + (2.5 * (n + rng.uniform())) / 11;
      grow(V, S, rng, hx, hy, s > 0 ? spread : Math.PI - spread, 0.008, 0.1, 0);
    }
  }
}

/** One vessel: a jittered walk that thins and fades, sometimes branching. */
function grow(
  V: Float32Array,
  S: number,
  rng: Rng,
  x: number,
  y: number,
  angle: number,
  width: number,
  amp: number,
  depth: number,
): void {
  const steps = 10 + rng.int(8);
  for (let k = 0; k < steps; k++) {
    angle += (rng.uniform() - 0.5) * 0.35;
    x += Math.cos(angle) * 0.011;
    y += Math.sin(angle) * 0.011;
    stamp(V, S, x, y, width, amp);
    width *= 0.95;
    amp *= 0.93;
    if (depth < 3 && rng.uniform() < 0.16) {
      const turn = (rng.uniform() < 0.5 ? -1 : 1) * (0.4 + rng.uniform() * 0.4);
      grow(V, S, rng, x, y, angle + turn, width * 0.8, amp * 0.9, depth + 1);
    }
  }
}

/** A soft disc of radius `w` (max-combined, so crossings do not add up). */
function stamp(V: Float32Array, S: number, x: number, y: number, w: number, amp: number): void {
  const ci = Math.round(x * S - 0.5), cj = Math.round(y * S - 0.5);
  const r = Math.max(1, Math.ceil(w * S)), inv = 1 / (w * w * S * S);
  const j0 = Math.max(0, cj - r), j1 = Math.min(S - 1, cj + r);
  const i0 = Math.max(0, ci - r), i1 = Math.min(S - 1, ci + r);
  const xs = x * S - 0.5, ys = y * S - 0.5;
  for (let j = j0; j <= j1; j++) {
    const dv = j - ys;
    for (let i = i0; i <= i1; i++) {
      const du = i - xs;
      const q = (du * du + dv * dv) * inv;
      const p = j * S + i;
      if (q < 1 && V[p] < amp * (1 - q)) V[p] = amp * (1 - q);
    }
  }
}

/** Posterior and anterior ribs and clavicles, added column by column; ribs
 * fade outside the hemithoraces and below the diaphragm. */
function drawBones(D: Float32Array, S: number, a: Anatomy, rng: Rng): void {
  const W = a.halfWidth, lungY = LUNG_Y, lungB = lungY - a.apex, lungA = W / 2 + 0.012;
  const jitter = Float32Array.from({ length: 24 }, () => (rng.uniform() - 0.5) * 0.008);
  for (let i = 0; i < S; i++) {
    const u = (i + 0.5) / S, dx = u - a.cx, dn = Math.abs(dx) / W, s = dx < 0 ? -1 : 1;
    if (dn > 1.15 || dn < 0.06) continue;
    const side = dx < 0 ? 0 : 1;
    const ex = (u - a.cx - s * W * 0.5) / lungA;
    const dome = a.diaphragm[side] + 0.43 * (dn - 0.45) * (dn - 0.45);
    for (let k = 0; k < 11; k++) {
      const y0 = a.ribs.first + k * a.ribs.spacing * (1 + 0.025 * k) + jitter[side * 12 + k];
      // posterior rib: up and out from the spine, then down along the lateral wall
      const post = y0 - 0.035 * dn + 0.17 * dn * dn * dn;
      band(D, S, i, post, 0.0095 + 0.0008 * k, 0.034, 0.022, ex, lungY, lungB, dome);
      // anterior rib: from the lateral wall down towards the midline, fainter
      if (k < 8 && dn > 0.35) {
        const ant = y0 + 0.135 + 0.24 * (1 - dn) ** 1.2;
        band(D, S, i, ant, 0.012, 0.024, 0.01, ex, lungY, lungB, dome);
      }
    }
    // clavicle: medial end low near the midline, lateral end higher, tapered ends
    if (dn > 0.1 && dn < 1.0) {
      const c = a.apex + 0.12 - 0.12 * dn + 0.015 * Math.sin(dn * Math.PI * 2);
      const taper = Math.min(ramp((dn - 0.16) / 0.06), ramp((0.94 - dn) / 0.06));
      band(D, S, i, c, 0.019, 0.07 * taper, 0.03 * taper, 0, lungY, lungB, 1);
    }
  }
}

/** Adds a bone band (cortex brighter than the marrow) centred on `centre` in column `i`. */
function band(
  D: Float32Array,
  S: number,
  i: number,
  centre: number,
  half: number,
  amp: number,
  edge: number,
  ex: number,
  lungY: number,
  lungB: number,
  dome: number,
): void {
  const j0 = Math.max(0, Math.floor((centre - half) * S - 1));
  const j1 = Math.min(S - 1, Math.ceil((centre + half) * S + 1));
  for (let j = j0; j <= j1; j++) {
    const v = (j + 0.5) / S;
    const t = Math.abs(v - centre) / half;
    if (t >= 1.2) continue;
    const ey = v < lungY ? (v - lungY) / lungB : 0;
    const rho = Math.sqrt(ex * ex + ey * ey);
    const vis = (rho < 1.05 ? 1 : 0.35) * (v < dome + 0.02 ? 1 : 0.15);
    const c = (t - 0.9) / 0.15;
    D[j * S + i] += vis *
      (amp * ramp((1 - t) * half * S / 0.8) + (c * c < 1 ? edge * (1 - c * c) : 0));
  }
}

/** In-place separable 3-tap blur (1, 2, 1) / 4, edges clamped. */
function blur3(D: Float32Array, S: number): void {
  const tmp = new Float32Array(S);
  for (let j = 0; j < S; j++) {
    const row = j * S;
    for (let i = 0; i < S; i++) {
      tmp[i] = (D[row + Math.max(0, i - 1)] + 2 * D[row + i] + D[row + Math.min(S - 1, i + 1)]) / 4;
    }
    D.set(tmp, row);
  }
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      tmp[j] =
        (D[Math.max(0, j - 1) * S + i] + 2 * D[j * S + i] + D[Math.min(S - 1, j + 1) * S + i]) / 4;
    }
    for (let j = 0; j < S; j++) D[j * S + i] = tmp[j];
  }
}
