/**
 * Behaviour drift from payload values (docs/adr/0004, "Payload drift"): numeric fields of a
 * JSON telemetry payload are read with a bounded scanner (no JSON.parse, no allocation per
 * message), and each field keeps a robust online baseline of its level and of its noise
 * (first differences, so counters, daily curves and slow cycles do not count as noise). Per
 * message the fields' evidence is pooled and fed to two CUSUMs per device (E. S. Page,
 * "Continuous inspection schemes", Biometrika 1954): one on the noise ratio, one (two-sided)
 * on the level of the fields that are stationary. A new device's fields are judged against
 * its peer group's fields (same profile, same subtopic and key) until they have their own.
 */

/** Bytes of a payload the scanner reads at most. */
export const SCAN_BYTES = 1024;
/** Fields a device keeps (the first seen win; later ones are ignored). */
export const DEVICE_FIELDS = 16;
/** Fields a peer group keeps. */
export const PEER_FIELDS = 48;
/** Numeric fields read from one payload at most. */
const PER_MESSAGE = 32;

// Per-field statistics, STRIDE doubles each.
const N = 0; // samples learnt
const LAST = 1; // last value (NaN: none since the session started)
const MEAN = 2; // level: EWMA of the value
const DEV = 3; // level: EWMA of |value - mean| (a streaming mean absolute deviation)
const TREND = 4; // EWMA of the first difference (a counter's step)
const D2 = 5; // noise: EWMA of (difference - trend)^2
const FAST_U = 6; // recent noise ratio (EWMA, 1/8), for the explanation
const FAST_Z = 7; // recent level deviation (EWMA, 1/8), for the explanation
const PEER_LEVEL = 8; // peer fields only: the group's current level (fast EWMA of every device's value)
const OMEAN = 9; // offset level: EWMA of (value - the peer group's current level)
const ODEV = 10; // EWMA of |offset - OMEAN|
const NL = 11; // level samples since the session started (a reboot can change a device's level and phase)
const STRIDE = 12;

/** Samples after which a field uses its own baseline (before: the peer group's). */
const FIELD_WARMUP = 24;
/**
 * Samples of a session after which a field's own level (and its offset from its peers) is judged:
 * the session's mean of 16 readings is within a quarter sigma. Longer, and a drift beginning soon
 * after a reboot or a blip went unjudged (a pump reporting every 2 s: 96 s blind per session).
 */
const LEVEL_WARMUP = 16;
/** Samples of history a field needs before its level is judged at all (slow cycles must show in its spread). */
const LEVEL_HISTORY = 256;
/** Samples a field's noise learns with weight 1/n before its slow rate. */
const NOISE_FAST = 48;
/** Peer samples needed before a peer field is used. */
const PEER_WARMUP = 64;
/** Slowest learning rate of a device field, and of a peer field. */
const DEVICE_ALPHA = 1 / 256;
const PEER_ALPHA = 1 / 1024;
/** A noise ratio is clipped here before pooling (one wild reading is not drift). */
const U_CLIP = 8;
/** Median of chi-square(1): a group's median noise ratio when nothing changes. */
const CHI2_MEDIAN = 0.455;
/** Devices a group needs before its median noise counts as the profile's (a few devices: one is a third of it). */
const COMMON_MIN_DEVICES = 8;
/** Step of the group's streaming median noise ratio per message. */
const MEDIAN_STEP = 0.05;
/** Messages (of all the group's devices) the peer level averages over. */
const PEER_LEVEL_N = 32;
const DAY_MS = 86_400_000;
/** Level evidence of this many fields at most is pooled as independent. */
const LEVEL_INDEPENDENT = 4;
/** A level deviation is clipped here before pooling. */
const Z_CLIP = 6;
/** A field is stationary (its level judged) when its level spread is at most this many noise sigmas. */
const STATIONARY = 1.6;
/** A field whose mean step exceeds this many noise sigmas is a counter or a ramp: its level is not judged. */
const TREND_MAX = 0.25;
/** 1 / MAD -> sigma for a normal distribution. */
const MAD_TO_SIGMA = 1.2533;

/** Pooled evidence of the last message (written by `observe`, read by the detector). */
export interface DriftReading {
  /** Noise CUSUM, level-up CUSUM, level-down CUSUM after this message. */
  noise: number;
  up: number;
  down: number;
  /** Fields that contributed to this message's evidence. */
  fields: number;
}

/** What the detector's drift test is tuned with (`detection.drift`). */
export interface DriftSettings {
  readonly noiseK: number;
  readonly noiseH: number;
  readonly levelK: number;
  readonly levelH: number;
}

/** A table of numeric fields keyed by a 32-bit hash (subtopic + key), fixed size. */
export class FieldTable {
  readonly keys: Uint32Array;
  readonly stats: Float64Array;
  readonly names: (string | undefined)[];
  count = 0;

  constructor(size: number) {
    this.keys = new Uint32Array(size);
    this.stats = new Float64Array(size * STRIDE);
    this.names = new Array<string | undefined>(size).fill(undefined);
  }

  /** Slot of `key`, claiming a free one (named from the topic's last level and the key's bytes) if there is room; -1 when full. */
  slot(key: number, topic: string, buf: Uint8Array, ks: number, ke: number): number {
    const k = key === 0 ? 1 : key;
    const size = this.keys.length;
    for (let i = 0; i < this.count; i++) if (this.keys[i] === k) return i;
    if (this.count >= size) return -1;
    const i = this.count++;
    this.keys[i] = k;
    this.names[i] = `${topic.slice(topic.lastIndexOf("/") + 1)}.${latin1(buf, ks, ke)}`;
    this.stats[i * STRIDE + LAST] = Number.NaN;
    return i;
  }

  find(key: number): number {
    const k = key === 0 ? 1 : key;
    for (let i = 0; i < this.count; i++) if (this.keys[i] === k) return i;
    return -1;
  }

  /** Forgets every field's last value (a new session: the first difference would span the gap). */
  breakSequence(): void {
    for (let i = 0; i < this.count; i++) {
      this.stats[i * STRIDE + LAST] = Number.NaN;
      this.stats[i * STRIDE + NL] = 0;
    }
  }
}

/** Robust sigma of a field's level. */
function levelSigma(st: Float64Array, o: number): number {
  return (st[o + DEV] as number) * MAD_TO_SIGMA;
}

/** Floor of a field's scale: quantisation and constant fields must not divide by ~0. */
function floorOf(mean: number): number {
  return 1e-6 + 1e-4 * Math.abs(mean);
}

/** A Huber-clipped EWMA of a value (at `m`) and of its absolute residual (at `dv`). */
function robust(st: Float64Array, m: number, dv: number, x: number, a: number, aDev: number, n: number): void {
  const mean = st[m] as number;
  let r = x - mean;
  const c = 4 * Math.max((st[dv] as number) * MAD_TO_SIGMA, floorOf(mean));
  if (n > 8) r = r > c ? c : r < -c ? -c : r;
  st[m] = mean + a * r;
  st[dv] = (st[dv] as number) + aDev * (Math.abs(r) - (st[dv] as number));
}

/** Learns one value into field `o` of `st` (Huber-clipped, weight 1/n then `alpha`). */
function learn(st: Float64Array, o: number, x: number, off: number, diff: number, alpha: number): void {
  const n = (st[o + N] as number) + 1;
  st[o + N] = n;
  const a = 1 / n > alpha ? 1 / n : alpha;
  if (n === 1) {
    st[o + MEAN] = x;
    st[o + DEV] = 0;
    st[o + OMEAN] = off;
    st[o + ODEV] = 0;
    st[o + NL] = 1;
    return;
  }
  // The level is relearnt (weight 1/n again) in every session: a reboot may reset counters and cycles.
  const nl = (st[o + NL] as number) + 1;
  st[o + NL] = nl;
  if (nl === 1) {
    st[o + MEAN] = x;
    st[o + OMEAN] = off;
  } else {
    const al = 1 / nl > a ? 1 / nl : a;
    // The spread keeps the field's whole history (a slow cycle stays non-stationary after a reboot).
    robust(st, o + MEAN, o + DEV, x, al, a, nl);
    robust(st, o + OMEAN, o + ODEV, off, al, a, nl);
  }
  if (Number.isNaN(diff)) return;
  const trend = st[o + TREND] as number;
  let e = diff - trend;
  const d2 = st[o + D2] as number;
  // Clip the innovation at 3 noise sigmas once there is a noise scale (a reboot's jump is not noise).
  if (n > 8 && d2 > 0) {
    const ce = 3 * Math.sqrt(d2);
    e = e > ce ? ce : e < -ce ? -ce : e;
  }
  // The noise learns 1/n for its first NOISE_FAST samples, then slowly (a drift must not become its noise).
  const an = n <= NOISE_FAST ? 1 / n : alpha;
  st[o + TREND] = trend + an * e;
  st[o + D2] = d2 + an * (e * e - d2);
}

/**
 * One device's payload drift state: its field table, the three CUSUMs and a scratch list of
 * the fields of the current message. Fixed size (~1.3 KB), allocated once.
 */
export class PayloadDrift {
  readonly fields = new FieldTable(DEVICE_FIELDS);
  noise = 0;
  up = 0;
  down = 0;
  /** Messages whose payload had at least one numeric field. */
  messages = 0;

  /** A new session: differences do not span the gap (reboots and blips are not drift). */
  newSession(): void {
    this.fields.breakSequence();
  }

  /** Resets the CUSUMs (after a finding, or when the drift was accepted). */
  reset(): void {
    this.noise = 0;
    this.up = 0;
    this.down = 0;
  }
}

/** Scratch buffers shared by one detector (the message path is single-threaded). */
export class DriftScratch {
  readonly keys = new Uint32Array(PER_MESSAGE);
  readonly values = new Float64Array(PER_MESSAGE);
  readonly keyStart = new Int32Array(PER_MESSAGE);
  readonly keyEnd = new Int32Array(PER_MESSAGE);
  count = 0;
}

/**
 * Reads up to 32 `"key": number` pairs from the first `SCAN_BYTES` of a JSON payload into
 * `out` (key = FNV-1a of `seed` and the key's bytes; a nested key is hashed by its own name).
 * String values are skipped; anything that is not JSON simply yields no pairs. No allocation.
 */
export function scanNumbers(buf: Uint8Array, seed: number, out: DriftScratch): number {
  out.count = 0;
  const end = buf.length < SCAN_BYTES ? buf.length : SCAN_BYTES;
  let i = 0;
  while (i < end && out.count < PER_MESSAGE) {
    if (buf[i] !== 0x22) {
      i++;
      continue;
    }
    // A string: hash it as a possible key.
    let h = seed;
    const ks = ++i;
    while (i < end) {
      const c = buf[i] as number;
      if (c === 0x5c) {
        i += 2;
        continue;
      }
      if (c === 0x22) break;
      h = Math.imul(h ^ c, 0x01000193);
      i++;
    }
    if (i >= end) break;
    const ke = i++;
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
    if (i >= end || buf[i] !== 0x3a) continue; // not a key (a string value or array element)
    i++;
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
    if (i >= end) break;
    const c0 = buf[i] as number;
    if (c0 !== 0x2d && (c0 < 0x30 || c0 > 0x39)) continue; // a string, object, array, literal
    // A JSON number.
    let neg = false;
    if (c0 === 0x2d) {
      neg = true;
      i++;
    }
    let v = 0;
    let digits = 0;
    while (i < end && (buf[i] as number) >= 0x30 && (buf[i] as number) <= 0x39) {
      v = v * 10 + ((buf[i] as number) - 0x30);
      i++;
      digits++;
    }
    if (i < end && buf[i] === 0x2e) {
      i++;
      let scale = 0.1;
      while (i < end && (buf[i] as number) >= 0x30 && (buf[i] as number) <= 0x39) {
        v += ((buf[i] as number) - 0x30) * scale;
        scale /= 10;
        i++;
        digits++;
      }
    }
    if (i < end && (buf[i] === 0x65 || buf[i] === 0x45)) {
      i++;
      let eneg = false;
      if (buf[i] === 0x2d || buf[i] === 0x2b) eneg = buf[i++] === 0x2d;
      let e = 0;
      while (i < end && (buf[i] as number) >= 0x30 && (buf[i] as number) <= 0x39) e = e * 10 + ((buf[i++] as number) - 0x30);
      v *= 10 ** (eneg ? -e : e);
    }
    // A number cut by the scan limit is not read (its digits may be missing).
    if (digits === 0 || i >= end) continue;
    const k = out.count++;
    out.keys[k] = h >>> 0 || 1;
    out.values[k] = neg ? -v : v;
    out.keyStart[k] = ks;
    out.keyEnd[k] = ke;
  }
  return out.count;
}

/**
 * Updates a device's drift state and its peers' field table with the scanned pairs of one
 * message and writes the CUSUMs to `reading`. `learnDevice` false freezes the device's
 * baselines (while its evidence is building up, the attack must not become normal).
 */
export function observeFields(
  d: PayloadDrift,
  peer: FieldTable,
  scratch: DriftScratch,
  buf: Uint8Array,
  topic: string,
  settings: DriftSettings,
  reading: DriftReading,
  now: number,
  peerDevices: number,
): void {
  const st = d.fields.stats;
  const ps = peer.stats;
  let uSum = 0;
  let uN = 0;
  let zSum = 0;
  let zN = 0;
  const suspicious = d.noise > settings.noiseH / 2 || d.up > settings.levelH / 2 || d.down > settings.levelH / 2;
  for (let k = 0; k < scratch.count; k++) {
    const key = scratch.keys[k] as number;
    const x = scratch.values[k] as number;
    // A timestamp (epoch ms or s within a day of now) is when, not what: inter-arrival is judged elsewhere.
    if (Math.abs(x - now) < DAY_MS || Math.abs(x - now / 1000) < DAY_MS / 1000) continue;
    const ks = scratch.keyStart[k] as number;
    const ke = scratch.keyEnd[k] as number;
    const j = d.fields.slot(key, topic, buf, ks, ke);
    const pj = peer.slot(key, topic, buf, ks, ke);
    if (j < 0) continue;
    const o = j * STRIDE;
    const po = pj * STRIDE;
    // The offset from the peer group's current level: what the whole profile does at once
    // (a daily curve, day and night regimes) cancels; one device moving away does not.
    const off = pj >= 0 && (ps[po + N] as number) > 0 ? x - (ps[po + PEER_LEVEL] as number) : 0;
    const last = st[o + LAST] as number;
    const diff = Number.isNaN(last) ? Number.NaN : x - last;
    st[o + LAST] = x;
    // The reference: the device's own field once warm, else its peers'.
    let ref: Float64Array | undefined;
    let ro = 0;
    if ((st[o + N] as number) >= FIELD_WARMUP) {
      ref = st;
      ro = o;
    } else if (pj >= 0 && (ps[po + N] as number) >= PEER_WARMUP) {
      ref = ps;
      ro = po;
    }
    if (ref !== undefined) {
      const mean = ref[ro + MEAN] as number;
      const floor = floorOf(x);
      const d2 = ref[ro + D2] as number;
      const noise = Math.sqrt(d2 / 2);
      // Noise evidence: the detrended difference against the reference's noise (chi-square(1)-like, mean 1).
      if (!Number.isNaN(diff) && d2 > floor * floor) {
        const e = diff - (ref[ro + TREND] as number);
        let u = (e * e) / d2;
        if (u > U_CLIP) u = U_CLIP;
        const own = (st[o + FAST_U] as number) + (u - (st[o + FAST_U] as number)) / 8;
        st[o + FAST_U] = own;
        // Noise the whole profile shows at once (vehicles starting to move) is not one device's
        // drift: divided by the group's current median ratio (a streaming, frugal median over its
        // messages, robust to a minority of devices drifting together).
        if (pj >= 0) {
          const med = ps[po + FAST_U] as number;
          ps[po + FAST_U] = med + (u > med ? MEDIAN_STEP : u < med ? -MEDIAN_STEP : 0);
          const common = med / CHI2_MEDIAN;
          if (peerDevices >= COMMON_MIN_DEVICES && (ps[po + N] as number) >= PEER_WARMUP && common > 1) u /= common;
        }
        uSum += u;
        uN++;
      }
      // Level evidence: only for fields whose level spread is their noise (no trend, no cycle).
      // Judged against the field's own level and, where that applies too, as an offset from its
      // peer group's current level (what the whole profile does at once cancels there): the
      // smaller deviation counts, a level is drift only if it is unusual both ways.
      const trend = ref[ro + TREND] as number;
      let z = Number.NaN;
      if (noise > floor && Math.abs(trend) <= TREND_MAX * noise) {
        const lvl = levelSigma(ref, ro);
        const olvl = (ref[ro + ODEV] as number) * MAD_TO_SIGMA;
        // The own level only once it has seen long enough (slow cycles look flat at first).
        const zr =
          (ref[ro + N] as number) >= LEVEL_HISTORY && (ref[ro + NL] as number) >= LEVEL_WARMUP && lvl <= STATIONARY * noise
            ? (x - mean) / Math.max(noise, lvl)
            : Number.NaN;
        const zo =
          pj >= 0 && (ref !== st || (st[o + NL] as number) >= LEVEL_WARMUP) && olvl <= STATIONARY * noise
            ? (off - (ref[ro + OMEAN] as number)) / Math.max(noise, olvl)
            : Number.NaN;
        // The offset alone is not enough: peers in step by accident (started together) fall out of
        // step after a reboot, which is not drift.
        z = Number.isNaN(zr) || Number.isNaN(zo) ? zr : Math.abs(zr) < Math.abs(zo) ? zr : zo;
      }
      if (!Number.isNaN(z) && !Number.isNaN(diff)) {
        if (z > Z_CLIP) z = Z_CLIP;
        else if (z < -Z_CLIP) z = -Z_CLIP;
        zSum += z;
        zN++;
        st[o + FAST_Z] = (st[o + FAST_Z] as number) + (z - (st[o + FAST_Z] as number)) / 8;
      }
    }
    if (suspicious) continue;
    learn(st, o, x, off, diff, DEVICE_ALPHA);
    if (pj >= 0) {
      learn(ps, po, x, off, diff, PEER_ALPHA);
      const level = ps[po + PEER_LEVEL] as number;
      ps[po + PEER_LEVEL] = (ps[po + N] as number) <= 1 ? x : level + (x - level) / PEER_LEVEL_N;
    }
  }
  if (uN > 0) {
    // Mean of uN chi-square(1)-like ratios, standardised (variance 2 / uN).
    const zn = (uSum / uN - 1) / Math.sqrt(2 / uN);
    d.noise = Math.max(0, d.noise + zn - settings.noiseK);
  }
  if (zN > 0) {
    // Fields of one device are often correlated (tags of one process): at most LEVEL_INDEPENDENT count as independent.
    const zl = (zSum / zN) * Math.sqrt(zN < LEVEL_INDEPENDENT ? zN : LEVEL_INDEPENDENT);
    d.up = Math.max(0, d.up + zl - settings.levelK);
    d.down = Math.max(0, d.down - zl - settings.levelK);
  }
  if (uN > 0 || zN > 0) d.messages++;
  reading.noise = d.noise;
  reading.up = d.up;
  reading.down = d.down;
  reading.fields = uN > zN ? uN : zN;
}

/** FNV-1a of the topic's last level (the subtopic): the seed of its fields' keys. No allocation. */
export function subtopicSeed(topic: string): number {
  let h = 0x811c9dc5;
  for (let i = topic.lastIndexOf("/") + 1; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0x2e, 0x01000193);
}

/** The fields that moved most, for a finding's evidence: name, recent noise ratio and level deviation. */
export function driftEvidence(
  d: PayloadDrift,
  limit = 5,
): { feature: string; noiseRatio: number; levelZ: number; baseline: number; last: number }[] {
  const st = d.fields.stats;
  const out: { feature: string; noiseRatio: number; levelZ: number; baseline: number; last: number; w: number }[] = [];
  for (let j = 0; j < d.fields.count; j++) {
    const o = j * STRIDE;
    const u = st[o + FAST_U] as number;
    const z = st[o + FAST_Z] as number;
    out.push({
      feature: `payload.${d.fields.names[j] ?? "?"}`,
      noiseRatio: round(u),
      levelZ: round(z),
      baseline: round(st[o + MEAN] as number),
      last: round(st[o + LAST] as number),
      w: Math.max(u - 1, Math.abs(z)),
    });
  }
  return out
    .sort((a, b) => b.w - a.w)
    .slice(0, limit)
    .map(({ w: _w, ...rest }) => rest);
}

function latin1(buf: Uint8Array, from: number, to: number): string {
  let s = "";
  const end = Math.min(to, from + 48);
  for (let i = from; i < end; i++) s += String.fromCharCode(buf[i] as number);
  return s;
}

function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : 0;
}
