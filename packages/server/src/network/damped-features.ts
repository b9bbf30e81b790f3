import { KeyedSlots } from "./keyed-slots.js";
import { EtherType, IpProto, type DecodedPacket } from "./packet-decoder.js";

/**
 * Damped incremental statistics of a packet stream, as Kitsune's AfterImage computes them
 * (Mirsky et al., "Kitsune: An Ensemble of Autoencoders for Online Network Intrusion
 * Detection", NDSS 2018, §IV-B), for every packet and over the decay rates λ = 5, 3, 1, 0.1,
 * 0.01 (a statistic's weight halves every 1/λ seconds):
 *
 * | group | stream key | statistics per λ |
 * |---|---|---|
 * | `MI` | source MAC + source IP | weight, mean, variance of packet size |
 * | `HH` | source IP (and the destination IP's stream) | weight, mean, variance; radius, magnitude, covariance, correlation with the destination |
 * | `HH_jit` | source IP -> destination IP | weight, mean, variance of inter-arrival time |
 * | `HpHp` | source IP:port (and destination IP:port) | as `HH` |
 *
 * 100 features per packet, in Kitsune's order, written into one reused Float64Array.
 *
 * Two deliberate differences from the reference implementation (ymirsky/Kitsune-py):
 * - **Bounded state.** Every table has a fixed capacity and evicts the stream whose slowest
 *   window has decayed most (the weight at λ = 0.01): memory is bounded by the capacities, not
 *   by the number of packets or connections. The reference keeps every stream forever.
 * - **O(1) per packet.** A packet updates the covariance of its own pair of streams only. The
 *   reference also updates every other pair its source stream takes part in, so a broker
 *   endpoint with thousands of past client sockets costs thousands of updates per packet:
 *   that is why it slows down ~14x under a brute force.
 */

/** Decay rates; `decayFactors` is written for exactly these. */
export const LAMBDAS: readonly number[] = [5, 3, 1, 0.1, 0.01];
const L = LAMBDAS.length;
/** 1D stream slot: lastT, then (w, sum, sum of squares) per λ. */
const S1 = 1 + 3 * L;
/** Pair slot: lastT, then (sum of residual products, weight, last residual of side 0, of side 1) per λ. */
const S2 = 1 + 4 * L;
const LAMBDA = Float64Array.from(LAMBDAS);
const SLOWEST = L - 1;

const FACTORS = new Float64Array(L);
const NO_DECAY = new Float64Array(L).fill(1);

/**
 * 2^(-λ dt) for every λ with two calls to Math.pow instead of five: with λ = 5, 3, 1, 0.1,
 * 0.01, the factors are e^5, e^3, e, g^10, g for e = 2^-dt and g = 2^(-dt/100). Factors
 * below 2^-60 are flushed to 0 (the weight is gone anyway), so that no subnormal number
 * ever slows the arithmetic down.
 */
function decayFactors(dt: number): Float64Array {
  const e = dt > 60 ? 0 : Math.pow(2, -dt);
  const g = dt > 6000 ? 0 : Math.pow(2, -dt / 100);
  const e3 = e * e * e;
  const g2 = g * g;
  const g10 = g2 * g2 * g2 * g2 * g2;
  FACTORS[0] = e3 * e * e;
  FACTORS[1] = e3;
  FACTORS[2] = e;
  FACTORS[3] = g10 < 8.7e-19 ? 0 : g10;
  FACTORS[4] = g;
  return FACTORS;
}

export const FEATURE_COUNT = 3 * L + 7 * L + 3 * L + 7 * L;

/** Feature names in vector order (Kitsune's headers, with variance named as such). */
export const FEATURE_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const l of LAMBDAS) names.push(`MI_dir_${l}_weight`, `MI_dir_${l}_mean`, `MI_dir_${l}_variance`);
  for (const l of LAMBDAS)
    names.push(...["weight", "mean", "variance", "radius", "magnitude", "covariance", "pcc"].map((s) => `HH_${l}_${s}`));
  for (const l of LAMBDAS) names.push(`HH_jit_${l}_weight`, `HH_jit_${l}_mean`, `HH_jit_${l}_variance`);
  for (const l of LAMBDAS)
    names.push(...["weight", "mean", "variance", "radius", "magnitude", "covariance", "pcc"].map((s) => `HpHp_${l}_${s}`));
  return names;
})();

/** Human description of a feature name, for alert explanations. */
export function describeFeature(name: string): string {
  const m = /^(MI_dir|HH_jit|HH|HpHp)_([\d.]+)_(\w+)$/.exec(name);
  if (!m) return name;
  const scope = { MI_dir: "source MAC+IP", HH: "host pair", HH_jit: "host pair inter-arrival", HpHp: "socket pair" }[
    m[1] as "MI_dir" | "HH" | "HH_jit" | "HpHp"
  ];
  const window =
    Number(m[2]) >= 1 ? `${(1 / Number(m[2])).toFixed(1)} s half-life` : `${Math.round(1 / Number(m[2]))} s half-life`;
  return `${scope} ${m[3]} (${window})`;
}

export interface FeatureCapacities {
  readonly macIp: number;
  readonly hosts: number;
  readonly hostPairs: number;
  readonly jitter: number;
  readonly sockets: number;
  readonly socketPairs: number;
}

export const DEFAULT_CAPACITIES: FeatureCapacities = {
  macIp: 4096,
  hosts: 4096,
  hostPairs: 16384,
  jitter: 16384,
  sockets: 32768,
  socketPairs: 32768,
};

class Streams {
  readonly slots: KeyedSlots;
  readonly s: Float64Array;
  now = 0;

  constructor(capacity: number, keyWords: number) {
    this.s = new Float64Array(capacity * S1);
    this.slots = new KeyedSlots(capacity, keyWords, (slot) => this.weight(slot));
  }

  /** Decayed weight of the slowest window: what eviction keeps. */
  weight(slot: number): number {
    const b = slot * S1;
    return this.s[b + 1 + 3 * SLOWEST]! * Math.pow(2, -LAMBDA[SLOWEST]! * (this.now - this.s[b]!));
  }

  /** Slot for the key in `slots.key`, created empty at time t when new. */
  open(t: number): number {
    const slot = this.slots.findOrInsert();
    if (this.slots.created) {
      const b = slot * S1;
      this.s[b] = t;
      for (let k = 0; k < L; k++) {
        this.s[b + 1 + 3 * k] = 1e-20;
        this.s[b + 2 + 3 * k] = 0;
        this.s[b + 3 + 3 * k] = 0;
      }
    }
    return slot;
  }

  insert(slot: number, t: number, v: number): void {
    const s = this.s;
    const b = slot * S1;
    const dt = t - s[b]!;
    if (dt > 0) {
      const factor = decayFactors(dt);
      for (let k = 0; k < L; k++) {
        const f = factor[k]!;
        s[b + 1 + 3 * k]! *= f;
        s[b + 2 + 3 * k]! *= f;
        s[b + 3 + 3 * k]! *= f;
      }
      s[b] = t;
    }
    for (let k = 0; k < L; k++) {
      s[b + 1 + 3 * k]! += 1;
      s[b + 2 + 3 * k]! += v;
      s[b + 3 + 3 * k]! += v * v;
    }
  }

  /** Seconds since the stream's last update (for inter-arrival times). */
  sinceLast(slot: number, t: number): number {
    const dt = t - this.s[slot * S1]!;
    return dt > 0 ? dt : 0;
  }

  mean(slot: number, k: number): number {
    const b = slot * S1 + 3 * k;
    return this.s[b + 2]! / this.s[b + 1]!;
  }

  variance(slot: number, k: number): number {
    const b = slot * S1 + 3 * k;
    const w = this.s[b + 1]!;
    const m = this.s[b + 2]! / w;
    return Math.abs(this.s[b + 3]! / w - m * m);
  }

  /** Writes weight, mean, variance for each λ at `out[at + stride * k]`. */
  write1D(slot: number, out: Float64Array, at: number, stride: number): void {
    const b = slot * S1;
    for (let k = 0; k < L; k++) {
      const w = this.s[b + 1 + 3 * k]!;
      const m = this.s[b + 2 + 3 * k]! / w;
      const o = at + stride * k;
      out[o] = w;
      out[o + 1] = m;
      out[o + 2] = Math.abs(this.s[b + 3 + 3 * k]! / w - m * m);
    }
  }
}

class Pairs {
  readonly slots: KeyedSlots;
  readonly s: Float64Array;
  readonly #streams: Streams;
  now = 0;

  constructor(capacity: number, streams: Streams) {
    this.#streams = streams;
    this.s = new Float64Array(capacity * S2);
    this.slots = new KeyedSlots(capacity, 4, (slot) => this.weight(slot));
  }

  weight(slot: number): number {
    // A pair whose stream was evicted (its slot reused) is dead weight: evict it first.
    const key = this.#keyOf(slot);
    if (this.#streams.slots.generation(key[0]!) !== key[1] || this.#streams.slots.generation(key[2]!) !== key[3]) return -1;
    const b = slot * S2;
    return this.s[b + 2 + 4 * SLOWEST]! * Math.pow(2, -LAMBDA[SLOWEST]! * (this.now - this.s[b]!));
  }

  readonly #k = new Uint32Array(4);
  #keyOf(slot: number): Uint32Array {
    // KeyedSlots does not expose its key store; pairs keep a copy of their own keys.
    this.#k[0] = this.#owner[slot * 4]!;
    this.#k[1] = this.#owner[slot * 4 + 1]!;
    this.#k[2] = this.#owner[slot * 4 + 2]!;
    this.#k[3] = this.#owner[slot * 4 + 3]!;
    return this.#k;
  }
  #owner = new Uint32Array(0);

  init(capacity: number): void {
    this.#owner = new Uint32Array(capacity * 4);
  }

  /**
   * Updates the pair (a, b) with value v of stream a at time t (a has already been updated),
   * and writes radius, magnitude, covariance, correlation per λ at `out[at + stride * k]`.
   */
  update(a: number, bSlot: number, t: number, v: number, out: Float64Array, at: number, stride: number): void {
    const st = this.#streams;
    const ga = st.slots.generation(a);
    const gb = st.slots.generation(bSlot);
    const first = a <= bSlot;
    const key = this.slots.key;
    key[0] = first ? a : bSlot;
    key[1] = first ? ga : gb;
    key[2] = first ? bSlot : a;
    key[3] = first ? gb : ga;
    const slot = this.slots.findOrInsert();
    const s = this.s;
    const base = slot * S2;
    if (this.slots.created) {
      this.#owner.set(key, slot * 4);
      s[base] = t;
      for (let k = 0; k < L; k++) {
        s[base + 1 + 4 * k] = 0;
        s[base + 2 + 4 * k] = 1e-20;
        s[base + 3 + 4 * k] = 0;
        s[base + 4 + 4 * k] = 0;
      }
    }
    const side = first ? 0 : 1;
    const dt = t - s[base]!;
    const factor = dt > 0 ? decayFactors(dt) : NO_DECAY;
    for (let k = 0; k < L; k++) {
      const b = base + 4 * k;
      if (dt > 0) {
        // As AfterImage's incStat_cov.processDecay: the sums and this side's residual decay.
        const f = factor[k]!;
        s[b + 1]! *= f;
        s[b + 2]! *= f;
        s[b + 3 + side]! *= f;
      }
      const res = v - st.mean(a, k);
      s[b + 1]! += res * s[b + 3 + (1 - side)]!;
      s[b + 2]! += 1;
      s[b + 3 + side] = res;
      const varA = st.variance(a, k);
      const varB = st.variance(bSlot, k);
      const meanA = st.mean(a, k);
      const meanB = st.mean(bSlot, k);
      const cov = s[b + 1]! / s[b + 2]!;
      const ss = Math.sqrt(varA) * Math.sqrt(varB);
      const o = at + stride * k;
      out[o] = Math.sqrt(varA * varA + varB * varB);
      out[o + 1] = Math.sqrt(meanA * meanA + meanB * meanB);
      out[o + 2] = cov;
      out[o + 3] = ss !== 0 ? cov / ss : 0;
    }
    if (dt > 0) s[base] = t;
  }
}

/** Per-packet feature extraction with bounded state. */
export class DampedFeatures {
  readonly vector = new Float64Array(FEATURE_COUNT);
  readonly #macIp: Streams;
  readonly #hosts: Streams;
  readonly #hostPairs: Pairs;
  readonly #jitter: Streams;
  readonly #sockets: Streams;
  readonly #socketPairs: Pairs;
  readonly #src = new Uint32Array(4);
  readonly #dst = new Uint32Array(4);

  constructor(capacities: Partial<FeatureCapacities> = {}) {
    const c = { ...DEFAULT_CAPACITIES, ...capacities };
    this.#macIp = new Streams(c.macIp, 6);
    this.#hosts = new Streams(c.hosts, 4);
    this.#hostPairs = new Pairs(c.hostPairs, this.#hosts);
    this.#hostPairs.init(c.hostPairs);
    this.#jitter = new Streams(c.jitter, 8);
    this.#sockets = new Streams(c.sockets, 5);
    this.#socketPairs = new Pairs(c.socketPairs, this.#sockets);
    this.#socketPairs.init(c.socketPairs);
  }

  /** Entries and evictions per table: memory is bounded by the capacities. */
  tableStats(): Record<string, { size: number; capacity: number; evictions: number }> {
    const one = (s: KeyedSlots) => ({ size: s.size, capacity: s.capacity, evictions: s.evictions });
    return {
      macIp: one(this.#macIp.slots),
      hosts: one(this.#hosts.slots),
      hostPairs: one(this.#hostPairs.slots),
      jitter: one(this.#jitter.slots),
      sockets: one(this.#sockets.slots),
      socketPairs: one(this.#socketPairs.slots),
    };
  }

  /** Updates the statistics with one packet and returns its feature vector (the same array every time). */
  update(p: DecodedPacket): Float64Array {
    const t = p.ts;
    const size = p.wireLen;
    const out = this.vector;
    const src = this.#src;
    const dst = this.#dst;
    const arp = p.etherType === EtherType.Arp && p.arpOp !== 0;
    // Addresses as 4 words: IPv4 mapped into IPv6 space, IPv6 as is, ARP's protocol addresses,
    // and for anything else the MACs (as Kitsune does).
    if (p.ipVersion === 4) {
      mapped4(src, p.src4);
      mapped4(dst, p.dst4);
    } else if (p.ipVersion === 6) {
      words6(src, p.buf, p.src6);
      words6(dst, p.buf, p.dst6);
    } else if (arp) {
      mapped4(src, p.arpSenderIp);
      mapped4(dst, p.arpTargetIp);
    } else {
      macWords(src, p.srcMac);
      macWords(dst, p.dstMac);
    }
    this.#macIp.now = this.#hosts.now = this.#hostPairs.now = this.#jitter.now = this.#sockets.now = this.#socketPairs.now = t;

    // MI: source MAC + source IP.
    const mk = this.#macIp.slots.key;
    const smac = p.srcMac < 0 ? 0xffffffffffff : p.srcMac;
    mk[0] = Math.floor(smac / 4294967296);
    mk[1] = smac >>> 0;
    mk.set(src, 2);
    const mi = this.#macIp.open(t);
    this.#macIp.insert(mi, t, size);
    this.#macIp.write1D(mi, out, 0, 3);

    // HH: source host, with the destination host.
    const hk = this.#hosts.slots.key;
    hk.set(src);
    const hSrc = this.#hosts.open(t);
    this.#hosts.insert(hSrc, t, size);
    this.#hosts.slots.protect = hSrc;
    hk.set(dst);
    const hDst = this.#hosts.open(t);
    this.#hosts.slots.protect = -1;
    for (let k = 0; k < L; k++) {
      const o = 3 * L + 7 * k;
      const b = hSrc * S1 + 3 * k;
      const w = this.#hosts.s[b + 1]!;
      const m = this.#hosts.s[b + 2]! / w;
      out[o] = w;
      out[o + 1] = m;
      out[o + 2] = Math.abs(this.#hosts.s[b + 3]! / w - m * m);
    }
    this.#hostPairs.update(hSrc, hDst, t, size, out, 3 * L + 3, 7);

    // HH_jit: inter-arrival times of source -> destination.
    const jk = this.#jitter.slots.key;
    jk.set(src, 0);
    jk.set(dst, 4);
    const jit = this.#jitter.open(t);
    this.#jitter.insert(jit, t, this.#jitter.sinceLast(jit, t));
    this.#jitter.write1D(jit, out, 10 * L, 3);

    // HpHp: source socket, with the destination socket. ARP: MACs; ICMP and others: the protocol alone.
    const sk = this.#sockets.slots.key;
    let srcTag: number;
    let dstTag: number;
    if (arp) {
      srcTag = dstTag = 0xff0000;
    } else if (p.srcPort >= 0) {
      srcTag = (p.proto << 16) | p.srcPort;
      dstTag = (p.proto << 16) | p.dstPort;
    } else {
      srcTag = dstTag = ((p.proto === IpProto.Icmpv6 ? IpProto.Icmp : p.proto & 0xff) << 16) | 0xffff;
    }
    if (arp) macWords(sk, p.srcMac);
    else sk.set(src);
    sk[4] = srcTag;
    const pSrc = this.#sockets.open(t);
    this.#sockets.insert(pSrc, t, size);
    this.#sockets.slots.protect = pSrc;
    if (arp) macWords(sk, p.dstMac);
    else sk.set(dst);
    sk[4] = dstTag;
    const pDst = this.#sockets.open(t);
    this.#sockets.slots.protect = -1;
    for (let k = 0; k < L; k++) {
      const o = 13 * L + 7 * k;
      const b = pSrc * S1 + 3 * k;
      const w = this.#sockets.s[b + 1]!;
      const m = this.#sockets.s[b + 2]! / w;
      out[o] = w;
      out[o + 1] = m;
      out[o + 2] = Math.abs(this.#sockets.s[b + 3]! / w - m * m);
    }
    this.#socketPairs.update(pSrc, pDst, t, size, out, 13 * L + 3, 7);
    return out;
  }
}

function mapped4(w: Uint32Array | number[], ip: number): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0xffff;
  w[3] = ip;
}

function words6(w: Uint32Array, b: Buffer, o: number): void {
  w[0] = b.readUInt32BE(o);
  w[1] = b.readUInt32BE(o + 4);
  w[2] = b.readUInt32BE(o + 8);
  w[3] = b.readUInt32BE(o + 12);
}

function macWords(w: Uint32Array, mac: number): void {
  const m = mac < 0 ? 0 : mac;
  w[0] = 0xffffffff;
  w[1] = 0;
  w[2] = Math.floor(m / 4294967296);
  w[3] = m >>> 0;
}
