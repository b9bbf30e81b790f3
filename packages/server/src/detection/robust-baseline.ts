/**
 * What the anomaly model watches in each device's feature window (docs/adr/0004). Index
 * order is the layout of every `Float64Array` of features.
 */
export const FEATURES = [
  "messages_per_s",
  "bytes_per_s",
  "payload_mean_bytes",
  "payload_std_bytes",
  "new_topics",
  "interarrival_cv",
  "sessions",
  "denials",
] as const;
export type FeatureName = (typeof FEATURES)[number];
export const FEATURE_COUNT = FEATURES.length;

/** Smallest scale of each feature, so a perfectly regular device is not "infinitely" surprised by jitter. */
const ABS_FLOOR = Float64Array.from([0.05, 16, 8, 8, 0.5, 0.25, 0.5, 0.5]);
/** Features judged in both directions (the rest only upwards: more traffic is the threat). */
const TWO_SIDED = Uint8Array.from([0, 0, 1, 0, 0, 1, 0, 0]);
/** Scale floor relative to the mean. */
const REL_FLOOR = 0.1;
/** Residuals are clipped at this many scales before they update the baseline (Huber-style). */
const CLIP = 3;
/** Sigmas above the mean of the 0.98 expectile of a normal distribution (about 1.7; 3 leaves margin). */
const TAIL_SIGMAS = 3;
/** The expectile `hi` tracks. */
const HI_Q = 0.98;
/** Median absolute deviation -> mean absolute deviation for a normal distribution (0.7979 / 0.6745). */
const MEDIAN_TO_MEAN_AD = 1.183;
/** 1 / MAD -> sigma for a normal distribution (mean absolute deviation = 0.7979 sigma). */
const MAD_TO_SIGMA = 1.2533;

/**
 * A robust online baseline of `FEATURE_COUNT` features: per feature an EWMA of the value and
 * an EWMA of the absolute residual (a streaming mean absolute deviation), with residuals
 * clipped before they update, so a burst of attack traffic barely moves what "normal" is.
 * The first `1 / minAlpha` windows average with weight 1/n (learns in a few windows), then
 * it forgets with weight `minAlpha`. Fixed size (2 x FEATURE_COUNT doubles), no allocation.
 */
export class RobustBaseline {
  readonly mean = new Float64Array(FEATURE_COUNT);
  readonly dev = new Float64Array(FEATURE_COUNT);
  /**
   * A streaming upper expectile (tau 0.98) per feature: an asymmetric EWMA that moves up 49x
   * faster than down, so a bursty but benign feature (a camera's motion snapshots) has an
   * upper band its bursts do not cross. Unclipped on purpose (it is the bursts' envelope).
   */
  readonly hi = new Float64Array(FEATURE_COUNT);
  /** Windows learnt so far. */
  n = 0;
  readonly #minAlpha: number;

  constructor(minAlpha = 1 / 30) {
    this.#minAlpha = minAlpha;
  }

  /** The scale of feature `i` (in its units): the robust sigma, floored. */
  scale(i: number): number {
    const m = this.mean[i] as number;
    const floor = Math.max(ABS_FLOOR[i] as number, REL_FLOOR * Math.abs(m));
    const s = this.core(i);
    // A bursty feature's spread is its upper tail's, not its median's (TAIL_SIGMAS: the expectile of a normal).
    const tail = ((this.hi[i] as number) - m) / TAIL_SIGMAS;
    const spread = s > tail ? s : tail;
    return spread > floor ? spread : floor;
  }

  /** The robust sigma of feature `i` from its mean absolute deviation, floored (what residuals are clipped against). */
  core(i: number): number {
    const m = this.mean[i] as number;
    const floor = Math.max(ABS_FLOOR[i] as number, REL_FLOOR * Math.abs(m));
    const s = (this.dev[i] as number) * MAD_TO_SIGMA;
    return s > floor ? s : floor;
  }

  /** Signed deviation of `x[i]` in scales; one-sided features report 0 below the mean. */
  z(x: Float64Array, i: number): number {
    const d = ((x[i] as number) - (this.mean[i] as number)) / this.scale(i);
    return TWO_SIDED[i] === 1 ? Math.abs(d) : d > 0 ? d : 0;
  }

  /** Largest deviation over the features, and which (written to `out[0]`, `out[1]`). */
  score(x: Float64Array, out: Float64Array): number {
    let best = 0;
    let which = -1;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const z = this.z(x, i);
      if (z > best) {
        best = z;
        which = i;
      }
    }
    out[0] = best;
    out[1] = which;
    return best;
  }

  /** Learns one window. */
  update(x: Float64Array): void {
    const n = ++this.n;
    const alpha = 1 / n > this.#minAlpha ? 1 / n : this.#minAlpha;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const v = x[i] as number;
      if (!Number.isFinite(v)) continue;
      if (n === 1) {
        this.mean[i] = v;
        this.dev[i] = 0;
        this.hi[i] = v;
        continue;
      }
      this.#tail(i, v, alpha);
      let r = v - (this.mean[i] as number);
      // Clip only once there is a scale to clip against.
      if (n > 3) {
        const c = CLIP * this.core(i);
        r = r > c ? c : r < -c ? -c : r;
      }
      this.mean[i] = (this.mean[i] as number) + alpha * r;
      this.dev[i] = (this.dev[i] as number) + alpha * (Math.abs(r) - (this.dev[i] as number));
    }
  }

  /**
   * Starts the baseline from `count` windows at once (`windows`: `count` x FEATURE_COUNT,
   * `sources[w]`: which device window w came from): per feature the median and the median
   * absolute deviation, which up to half the windows cannot move (a young peer group's first
   * windows may hold an attacker's), and the upper expectile at the second-highest device's
   * highest value, so bursts at least two devices show are normal and one device's are not.
   * Off the message path, once per group.
   */
  seed(windows: Float64Array, sources: Float64Array, count: number): void {
    const values = new Float64Array(count);
    for (let i = 0; i < FEATURE_COUNT; i++) {
      let k = 0;
      for (let w = 0; w < count; w++) {
        const v = windows[w * FEATURE_COUNT + i] as number;
        if (Number.isFinite(v)) values[k++] = v;
      }
      if (k === 0) continue;
      const m = median(values, k);
      for (let j = 0; j < k; j++) values[j] = Math.abs((values[j] as number) - m);
      this.mean[i] = m;
      this.dev[i] = median(values, k) * MEDIAN_TO_MEAN_AD;
      this.hi[i] = Math.max(m, secondSourceMax(windows, sources, count, i));
    }
    this.n = count;
  }

  /** Forgets everything learnt. */
  reset(): void {
    this.mean.fill(0);
    this.dev.fill(0);
    this.hi.fill(0);
    this.n = 0;
  }

  /** Learns only the upper expectile of one window (a peer group learns its devices' bursts even when flagged). */
  updateTail(x: Float64Array): void {
    if (this.n === 0) return;
    const alpha = 1 / this.n > this.#minAlpha ? 1 / this.n : this.#minAlpha;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const v = x[i] as number;
      if (Number.isFinite(v)) this.#tail(i, v, alpha);
    }
  }

  #tail(i: number, v: number, alpha: number): void {
    const h = this.hi[i] as number;
    const w = v > h ? Math.min(1, 2 * alpha * HI_Q) : 2 * alpha * (1 - HI_Q);
    this.hi[i] = h + w * (v - h);
  }

  /** Upper band of feature `i`: mean + k scales, or its upper quantile when that is higher (bursty features). */
  upper(i: number, k: number): number {
    const band = (this.mean[i] as number) + k * this.scale(i);
    const hi = this.hi[i] as number;
    return hi > band ? hi : band;
  }
}

/** The highest value of feature `i` that at least two sources reached (-Infinity if fewer than two). */
function secondSourceMax(windows: Float64Array, sources: Float64Array, count: number, i: number): number {
  let first = Number.NEGATIVE_INFINITY;
  let firstSource = Number.NaN;
  let second = Number.NEGATIVE_INFINITY;
  for (let w = 0; w < count; w++) {
    const v = windows[w * FEATURE_COUNT + i] as number;
    if (!Number.isFinite(v)) continue;
    const src = sources[w] as number;
    if (v > first) {
      if (src !== firstSource) second = first;
      first = v;
      firstSource = src;
    } else if (v > second && src !== firstSource) {
      second = v;
    }
  }
  return second;
}

/** The median of the first `k` values (sorts them in place). */
function median(values: Float64Array, k: number): number {
  const part = values.subarray(0, k).sort();
  const mid = k >> 1;
  return k % 2 === 1 ? (part[mid] as number) : ((part[mid - 1] as number) + (part[mid] as number)) / 2;
}
