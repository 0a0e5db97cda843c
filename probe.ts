import { loadEmbeddings, splitRows } from "./src/io/embeddings.ts";
const s = await loadEmbeddings("logs/demo/embeddings.safetensors");
const tr = splitRows(s, "train"), te = splitRows(s, "test");
for (const name of ["image", "text"] as const) {
  const x = s[name], d = s.dim;
  const mu = new Float64Array(d), sd = new Float64Array(d);
  for (const r of tr) for (let j = 0; j < d; j++) mu[j] += x[r*d+j] / tr.length;
  for (const r of tr) for (let j = 0; j < d; j++) sd[j] += (x[r*d+j]-mu[j])**2 / tr.length;
  const z = (r: number, j: number) => (x[r*d+j]-mu[j]) / Math.sqrt(sd[j] + 1e-12);
  const c = [new Float64Array(d), new Float64Array(d)], cnt = [0, 0];
  for (const r of tr) { const l = s.label[r]; cnt[l]++; for (let j = 0; j < d; j++) c[l][j] += z(r, j); }
  for (const l of [0, 1]) for (let j = 0; j < d; j++) c[l][j] /= cnt[l];
  let ok = 0;
  for (const r of te) { let d0 = 0, d1 = 0; for (let j = 0; j < d; j++) { d0 += (z(r,j)-c[0][j])**2; d1 += (z(r,j)-c[1][j])**2; } ok += ((d1 < d0 ? 1 : 0) === s.label[r]) ? 1 : 0; }
  console.log(name, "nearest-centroid test acc", (ok / te.length).toFixed(3));
}
