/**
 * KitNET, Kitsune's online anomaly scorer (Mirsky et al., NDSS 2018, §IV-C/D), in plain
 * Float64Arrays: no allocation per packet.
 *
 * 1. Feature mapping (the first `fmGrace` vectors): incremental correlation of the features,
 *    then single-linkage clustering of the correlation distance into groups of at most
 *    `maxGroup` features.
 * 2. Training (the next `adGrace` vectors): one small autoencoder per group (tied weights,
 *    sigmoid, hidden = ceil(0.75 x visible), 0-1 normalisation by the running min/max, SGD),
 *    and an output autoencoder over the groups' reconstruction errors (RMSE).
 * 3. Execution: the output autoencoder's RMSE is the packet's anomaly score.
 *
 * It follows the reference (ymirsky/Kitsune-py, KitNET/) closely; the random initial weights
 * come from a seeded generator, so a run is reproducible.
 */

export interface KitNetOptions {
  readonly features: number;
  readonly maxGroup?: number;
  readonly fmGrace: number;
  readonly adGrace: number;
  readonly learningRate?: number;
  readonly hiddenRatio?: number;
  readonly seed?: number;
}

/**
 * The logistic function by table and linear interpolation: about 10x cheaper than
 * `1 / (1 + Math.exp(-s))` here, with an absolute error below 4e-6 (far under the
 * reconstruction errors that make a score), and exactly 0 or 1 beyond |s| >= 30.
 */
const SIG_RANGE = 30;
const SIG_STEPS = 64;
const SIG_TABLE = Float64Array.from(
  { length: 2 * SIG_RANGE * SIG_STEPS + 2 },
  (_, i) => 1 / (1 + Math.exp(-(i / SIG_STEPS - SIG_RANGE))),
);

export function sigmoid(s: number): number {
  if (s <= -SIG_RANGE) return 0;
  if (s >= SIG_RANGE) return 1;
  const f = (s + SIG_RANGE) * SIG_STEPS;
  const i = f | 0;
  const a = SIG_TABLE[i]!;
  return a + (SIG_TABLE[i + 1]! - a) * (f - i);
}

class Autoencoder {
  readonly v: number;
  readonly h: number;
  readonly w: Float64Array; // v x h, row-major
  readonly hbias: Float64Array;
  readonly vbias: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly z: Float64Array;
  readonly lh1: Float64Array;
  readonly lh2: Float64Array;
  readonly lr: number;

  constructor(visible: number, hiddenRatio: number, lr: number, random: () => number) {
    this.v = visible;
    this.h = Math.ceil(visible * hiddenRatio);
    this.lr = lr;
    this.w = new Float64Array(this.v * this.h);
    const a = 1 / visible;
    for (let i = 0; i < this.w.length; i++) this.w[i] = -a + 2 * a * random();
    this.hbias = new Float64Array(this.h);
    this.vbias = new Float64Array(this.v);
    this.min = new Float64Array(this.v).fill(Infinity);
    this.max = new Float64Array(this.v).fill(-Infinity);
    this.x = new Float64Array(this.v);
    this.y = new Float64Array(this.h);
    this.z = new Float64Array(this.v);
    this.lh1 = new Float64Array(this.h);
    this.lh2 = new Float64Array(this.v);
  }

  /** Normalises `input[map[i]]` into `this.x`, learning the range when training. */
  load(input: Float64Array, map: Int32Array, learn: boolean): void {
    const v = this.v;
    const min = this.min;
    const max = this.max;
    const x = this.x;
    for (let i = 0; i < v; i++) {
      const value = input[map[i]!]!;
      if (learn) {
        if (value > max[i]!) max[i] = value;
        if (value < min[i]!) min[i] = value;
      }
      x[i] = (value - min[i]!) / (max[i]! - min[i]! + 1e-16);
    }
  }

  forward(): void {
    const { v, h, w, x, y, z } = this;
    const hbias = this.hbias;
    const vbias = this.vbias;
    for (let j = 0; j < h; j++) {
      let s = hbias[j]!;
      for (let i = 0; i < v; i++) s += x[i]! * w[i * h + j]!;
      y[j] = sigmoid(s);
    }
    for (let i = 0; i < v; i++) {
      let s = vbias[i]!;
      const row = i * h;
      for (let j = 0; j < h; j++) s += y[j]! * w[row + j]!;
      z[i] = sigmoid(s);
    }
  }

  rmse(): number {
    let e = 0;
    for (let i = 0; i < this.v; i++) {
      const d = this.x[i]! - this.z[i]!;
      e += d * d;
    }
    return Math.sqrt(e / this.v);
  }

  train(input: Float64Array, map: Int32Array): number {
    this.load(input, map, true);
    this.forward();
    const { v, h, w, x, y, z, lh1, lh2, lr } = this;
    for (let i = 0; i < v; i++) lh2[i] = x[i]! - z[i]!;
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let i = 0; i < v; i++) s += lh2[i]! * w[i * h + j]!;
      lh1[j] = s * y[j]! * (1 - y[j]!);
    }
    // L_W = outer(x, L_h1) + outer(L_h2, y)
    for (let i = 0; i < v; i++) {
      const row = i * h;
      const xi = x[i]!;
      const ei = lh2[i]!;
      for (let j = 0; j < h; j++) w[row + j]! += lr * (xi * lh1[j]! + ei * y[j]!);
    }
    for (let j = 0; j < h; j++) this.hbias[j]! += lr * lh1[j]!;
    for (let i = 0; i < v; i++) this.vbias[i]! += lr * lh2[i]!;
    let e = 0;
    for (let i = 0; i < v; i++) e += lh2[i]! * lh2[i]!;
    return Math.sqrt(e / v);
  }

  execute(input: Float64Array, map: Int32Array): number {
    this.load(input, map, false);
    this.forward();
    return this.rmse();
  }
}

export class KitNet {
  readonly features: number;
  readonly fmGrace: number;
  readonly adGrace: number;
  readonly #maxGroup: number;
  readonly #lr: number;
  readonly #hr: number;
  #random: () => number;
  // Feature-mapping state (corClust): sums, residual sums, residual squares, residual products.
  #c: Float64Array;
  #cr: Float64Array;
  #crs: Float64Array;
  #C: Float64Array;
  readonly #rt: Float64Array;
  #n = 0;
  #groups: Int32Array[] = [];
  #ensemble: Autoencoder[] = [];
  #output: Autoencoder | undefined;
  #layer = new Float64Array(0);
  #identity = new Int32Array(0);
  trained = 0;

  constructor(o: KitNetOptions) {
    this.features = o.features;
    this.fmGrace = o.fmGrace;
    this.adGrace = o.adGrace;
    this.#maxGroup = Math.max(1, Math.min(o.maxGroup ?? 10, o.features));
    this.#lr = o.learningRate ?? 0.1;
    this.#hr = o.hiddenRatio ?? 0.75;
    this.#random = mulberry32(o.seed ?? 1234);
    const n = o.features;
    this.#c = new Float64Array(n);
    this.#cr = new Float64Array(n);
    this.#crs = new Float64Array(n);
    this.#C = new Float64Array(n * n);
    this.#rt = new Float64Array(n);
  }

  /** True once both grace periods are over: `process` scores instead of learning. */
  get executing(): boolean {
    return this.trained >= this.fmGrace + this.adGrace;
  }

  /** Feature groups (indices) of the ensemble, once mapped. */
  get groups(): readonly Int32Array[] {
    return this.#groups;
  }

  /** Learns from x during the grace periods (returns 0), then returns x's anomaly score. */
  process(x: Float64Array): number {
    if (this.executing) return this.execute(x);
    this.train(x);
    return 0;
  }

  train(x: Float64Array): void {
    if (this.trained < this.fmGrace) {
      this.#updateCorrelation(x);
      if (this.trained === this.fmGrace - 1) this.#build();
    } else {
      if (this.#output === undefined) this.#build();
      const layer = this.#layer;
      for (let a = 0; a < this.#ensemble.length; a++) layer[a] = this.#ensemble[a]!.train(x, this.#groups[a]!);
      this.#output!.train(layer, this.#identity);
    }
    this.trained++;
  }

  execute(x: Float64Array): number {
    if (this.#output === undefined) return 0;
    const layer = this.#layer;
    for (let a = 0; a < this.#ensemble.length; a++) layer[a] = this.#ensemble[a]!.execute(x, this.#groups[a]!);
    return this.#output.execute(layer, this.#identity);
  }

  /**
   * Per-feature share of the reconstruction error for x (call right after `execute(x)` on the
   * same x): which statistics the model found hardest to explain, with the trained range.
   */
  explain(x: Float64Array, top = 3): { feature: number; error: number; trainedMin: number; trainedMax: number }[] {
    const out: { feature: number; error: number; trainedMin: number; trainedMax: number }[] = [];
    for (let a = 0; a < this.#ensemble.length; a++) {
      const ae = this.#ensemble[a]!;
      const map = this.#groups[a]!;
      ae.execute(x, map);
      // Weight each group by how much its error contributed at the output layer.
      const groupWeight = this.#layer[a]!;
      for (let i = 0; i < ae.v; i++) {
        const d = ae.x[i]! - ae.z[i]!;
        out.push({ feature: map[i]!, error: d * d * groupWeight, trainedMin: ae.min[i]!, trainedMax: ae.max[i]! });
      }
    }
    return out.sort((p, q) => q.error - p.error).slice(0, top);
  }

  #updateCorrelation(x: Float64Array): void {
    const n = this.features;
    this.#n++;
    const c = this.#c;
    const rt = this.#rt;
    for (let i = 0; i < n; i++) {
      c[i]! += x[i]!;
      rt[i] = x[i]! - c[i]! / this.#n;
      this.#cr[i]! += rt[i]!;
      this.#crs[i]! += rt[i]! * rt[i]!;
    }
    const C = this.#C;
    for (let i = 0; i < n; i++) {
      const ri = rt[i]!;
      if (ri === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) C[row + j]! += ri * rt[j]!;
    }
  }

  #build(): void {
    const n = this.features;
    // Correlation distance, then single-linkage clustering (scipy's linkage default).
    const D = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let denom = Math.sqrt(this.#crs[i]!) * Math.sqrt(this.#crs[j]!);
        if (denom === 0) denom = 1e-100;
        const d = 1 - this.#C[i * n + j]! / denom;
        D[i * n + j] = d < 0 ? 0 : d;
      }
    }
    this.#groups = singleLinkageGroups(D, n, this.#maxGroup).map((g) => Int32Array.from(g));
    this.#ensemble = this.#groups.map((g) => new Autoencoder(g.length, this.#hr, this.#lr, this.#random));
    this.#output = new Autoencoder(this.#groups.length, this.#hr, this.#lr, this.#random);
    this.#layer = new Float64Array(this.#groups.length);
    this.#identity = Int32Array.from(this.#groups, (_g, i) => i);
    // The correlation matrix is no longer needed.
    this.#C = new Float64Array(0);
  }
}

interface Node {
  readonly leaves: number[];
  readonly left?: Node;
  readonly right?: Node;
}

/** Agglomerative single-linkage clustering, then the dendrogram cut into subtrees of at most `max` leaves. */
export function singleLinkageGroups(D: Float64Array, n: number, max: number): number[][] {
  let clusters: { node: Node; id: number }[] = Array.from({ length: n }, (_, i) => ({ node: { leaves: [i] }, id: i }));
  // Distance between current clusters (single linkage: min over members), kept as a matrix over ids.
  const size = 2 * n;
  const dist = new Float64Array(size * size).fill(Infinity);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) if (i !== j) dist[i * size + j] = Math.min(D[i * n + j]!, D[j * n + i]!);
  let nextId = n;
  while (clusters.length > 1) {
    let bi = 0;
    let bj = 1;
    let best = Infinity;
    for (let i = 0; i < clusters.length; i++) {
      for (let j = i + 1; j < clusters.length; j++) {
        const d = dist[clusters[i]!.id * size + clusters[j]!.id]!;
        if (d < best) {
          best = d;
          bi = i;
          bj = j;
        }
      }
    }
    const a = clusters[bi]!;
    const b = clusters[bj]!;
    const id = nextId++;
    for (const c of clusters) {
      if (c === a || c === b) continue;
      const d = Math.min(dist[a.id * size + c.id]!, dist[b.id * size + c.id]!);
      dist[id * size + c.id] = d;
      dist[c.id * size + id] = d;
    }
    const merged = { node: { leaves: [...a.node.leaves, ...b.node.leaves], left: a.node, right: b.node }, id };
    clusters = clusters.filter((c) => c !== a && c !== b);
    clusters.push(merged);
  }
  const groups: number[][] = [];
  const cut = (node: Node): void => {
    if (node.leaves.length <= max || !node.left || !node.right) groups.push(node.leaves);
    else {
      cut(node.left);
      cut(node.right);
    }
  };
  if (clusters[0]) cut(clusters[0].node);
  return groups;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
