/** Hour-of-day buckets (UTC hours of the window's end; each profile learns its own, so the zone does not matter). */
export const HOURS = 24;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The rate features keyed by hour (indices into `FEATURES`): messages_per_s, bytes_per_s. */
export const HOURLY_FEATURES: readonly number[] = Object.freeze([0, 1]);
const F = 2;
/** Units of the log transform: rates well below them barely count (0.1 msg/s, 32 B/s). */
const UNIT = Float64Array.from([0.1, 32]);
/** Smallest scale in log units: one scale is a 28 % change; the default threshold (8) is ~7x the hour's usual rate. */
const LOG_FLOOR = 0.25;
/** Residuals are clipped at this many scales before they update (Huber-style, as in RobustBaseline). */
const CLIP = 3;
const MAD_TO_SIGMA = 1.2533;
const TAIL_SIGMAS = 3;
/** The upper expectile of the residuals (as RobustBaseline's `hi`): how far above its hour's usual a device's bursts go. */
const HI_Q = 0.98;
/** Weight floors: a bucket follows its hour within a day (~120 windows), the shared residual spread is slower. */
const BUCKET_MIN_ALPHA = 1 / 120;
const DEV_MIN_ALPHA = 1 / 200;

// Layout of `v`: levels [f][hour], counts [hour], residual MAD [f], residual upper expectile [f], windows learnt.
const COUNT = F * HOURS;
const DEV = COUNT + HOURS;
const HI = DEV + F;
const TOTAL = HI + F;
const SIZE = TOTAL + 1;

/** The UTC hour (0-23) of an epoch-ms time. */
export function hourOf(at: number): number {
  const ms = ((at % DAY_MS) + DAY_MS) % DAY_MS;
  return Math.floor(ms / HOUR_MS);
}

/**
 * Time of day for the anomaly model (issue 7, docs/adr/0004 "Time of day"): per hour-of-day
 * bucket, a robust level of log(1 + rate / unit) for the message and byte rates; shared by
 * the buckets, the residuals' spread (MAD) and upper expectile: how well "the usual rate at
 * this hour" predicts the device, and how far above it its benign bursts go (a camera's
 * motion events at any hour). A window is judged against its own hour and the two
 * neighbouring ones (whichever is least surprised: a morning ramp ten minutes early is not an
 * anomaly), upwards only. Fixed size: 77 float32 (308 bytes), no allocation per update.
 */
export class HourProfile {
  readonly v = new Float32Array(SIZE);

  /** Windows learnt in bucket `hour`. */
  count(hour: number): number {
    return this.v[COUNT + hour] as number;
  }

  /** The usual value of hourly feature `k` (0: messages/s, 1: bytes/s) at `hour`, in its units. */
  usual(k: number, hour: number): number {
    return Math.expm1(this.v[k * HOURS + hour] as number) * (UNIT[k] as number);
  }

  /** Learns one window (`x`: the features, `FEATURES` layout) closed at `hour`. */
  update(hour: number, x: Float64Array): void {
    const v = this.v;
    const c = (v[COUNT + hour] as number) + 1;
    v[COUNT + hour] = c < 1e6 ? c : 1e6;
    const total = (v[TOTAL] as number) + 1;
    v[TOTAL] = total < 1e6 ? total : 1e6;
    const alpha = 1 / c > BUCKET_MIN_ALPHA ? 1 / c : BUCKET_MIN_ALPHA;
    const devAlpha = 1 / total > DEV_MIN_ALPHA ? 1 / total : DEV_MIN_ALPHA;
    for (let k = 0; k < F; k++) {
      const raw = x[HOURLY_FEATURES[k] as number] as number;
      if (!(raw >= 0) || !Number.isFinite(raw)) continue;
      const lv = Math.log1p(raw / (UNIT[k] as number));
      const at = k * HOURS + hour;
      if (c === 1) {
        v[at] = lv;
        continue;
      }
      let r = lv - (v[at] as number);
      this.#tail(k, r, devAlpha);
      if (c > 3) {
        const lim = CLIP * this.#core(k);
        r = r > lim ? lim : r < -lim ? -lim : r;
      }
      v[at] = (v[at] as number) + alpha * r;
      v[DEV + k] = (v[DEV + k] as number) + devAlpha * (Math.abs(r) - (v[DEV + k] as number));
    }
  }

  /** Forgets everything learnt. */
  reset(): void {
    this.v.fill(0);
  }

  /** Learns only the residual expectile of one window (an isolated burst that was flagged). */
  updateTail(hour: number, x: Float64Array): void {
    const v = this.v;
    const c = v[COUNT + hour] as number;
    if (c < 2) return;
    const total = v[TOTAL] as number;
    const devAlpha = 1 / total > DEV_MIN_ALPHA ? 1 / total : DEV_MIN_ALPHA;
    for (let k = 0; k < F; k++) {
      const raw = x[HOURLY_FEATURES[k] as number] as number;
      if (!(raw >= 0) || !Number.isFinite(raw)) continue;
      this.#tail(k, Math.log1p(raw / (UNIT[k] as number)) - (v[k * HOURS + hour] as number), devAlpha);
    }
  }

  /**
   * The largest upward deviation (in scales) of the window's rates from the usual at `hour`,
   * each feature taken at the least surprised of the hour and its neighbours that have learnt
   * `minWindows` windows; NaN when none has. `out[0]`: the hourly feature index (k),
   * `out[1]`: the bucket that judged.
   */
  score(hour: number, x: Float64Array, minWindows: number, out?: Float64Array): number {
    let best = Number.NaN;
    for (let k = 0; k < F; k++) {
      const raw = x[HOURLY_FEATURES[k] as number] as number;
      if (!(raw >= 0) || !Number.isFinite(raw)) continue;
      const lv = Math.log1p(raw / (UNIT[k] as number));
      const scale = this.#scale(k);
      let least = Number.POSITIVE_INFINITY;
      let bucket = -1;
      for (let d = -1; d <= 1; d++) {
        const b = (hour + d + HOURS) % HOURS;
        if ((this.v[COUNT + b] as number) < minWindows) continue;
        const z = (lv - (this.v[k * HOURS + b] as number)) / scale;
        const up = z > 0 ? z : 0;
        if (up < least) {
          least = up;
          bucket = b;
        }
      }
      if (bucket < 0) continue;
      if (!(least <= best)) {
        best = least;
        if (out !== undefined) {
          out[0] = k;
          out[1] = bucket;
        }
      }
    }
    return best;
  }

  /** Hourly features deviating by `min` scales or more at `hour`: name, value, the usual at that hour, z. */
  explain(
    hour: number,
    x: Float64Array,
    minWindows: number,
    min: number,
    names: readonly string[],
  ): { feature: string; hour: number; value: number; usualAtHour: number; z: number }[] {
    const out: { feature: string; hour: number; value: number; usualAtHour: number; z: number }[] = [];
    const one = new Float64Array(x.length);
    const where = new Float64Array(2);
    for (let k = 0; k < F; k++) {
      const i = HOURLY_FEATURES[k] as number;
      one.fill(Number.NaN);
      one[i] = x[i] as number;
      const z = this.score(hour, one, minWindows, where);
      if (z >= min)
        out.push({
          feature: names[i] as string,
          hour,
          value: round(x[i] as number),
          usualAtHour: round(this.usual(k, where[1] as number)),
          z: round(z),
        });
    }
    return out.sort((a, b) => b.z - a.z);
  }

  #core(k: number): number {
    const s = (this.v[DEV + k] as number) * MAD_TO_SIGMA;
    return s > LOG_FLOOR ? s : LOG_FLOOR;
  }

  /** The scale of hourly feature `k` in log units: its residual spread, or its bursts' when they go further. */
  #scale(k: number): number {
    const s = this.#core(k);
    const tail = (this.v[HI + k] as number) / TAIL_SIGMAS;
    return tail > s ? tail : s;
  }

  #tail(k: number, r: number, alpha: number): void {
    const h = this.v[HI + k] as number;
    const w = r > h ? Math.min(1, 2 * alpha * HI_Q) : 2 * alpha * (1 - HI_Q);
    this.v[HI + k] = h + w * (r - h);
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
