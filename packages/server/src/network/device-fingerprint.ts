import { VigilError } from "../core/index.js";
import { App, EtherType, IpProto, type DecodedPacket } from "./packet-decoder.js";

/**
 * Device-type identification from the traffic a host makes while it joins the network, in
 * the spirit of IoT Sentinel (Miettinen et al., ICDCS 2017): which protocols it speaks, to
 * which kinds of ports, with which packet sizes, and what it says in DHCP and DNS. Addresses
 * (MAC, OUI, IP) are deliberately *not* features: a model that keys on them learns one unit,
 * not a device type.
 *
 * `HostFingerprint` accumulates the features of a host's first packets (a fixed-size
 * Float64Array, no per-packet allocation); `FingerprintModel` classifies the vector by the
 * nearest type centroid in standardised feature space and answers `unknown` when even the
 * nearest type is too far.
 */

const PROTOCOL_FEATURES = [
  "arp",
  "ipv4",
  "ipv6",
  "icmp",
  "icmpv6",
  "igmp",
  "tcp",
  "udp",
  "eapol",
  "dhcp",
  "dns",
  "mdns",
  "ssdp",
  "http",
  "https",
  "ntp",
  "mqtt",
  "llmnr",
  "dhcpv6",
  "ip_options",
  "broadcast_or_multicast",
  "tcp_syn",
  "port_well_known",
  "port_registered",
  "port_dynamic",
] as const;
const SIZE_BINS = [64, 128, 256, 512, 1024, Infinity] as const;
const HASH_BUCKETS = 32;
const SCALAR_FEATURES = ["log_packets", "log_distinct_dst", "log_distinct_ports", "mean_size"] as const;

/** Feature names, in vector order. */
export const FINGERPRINT_FEATURES: readonly string[] = [
  ...PROTOCOL_FEATURES,
  ...SIZE_BINS.map((b, i) => `size_${i === 0 ? 0 : SIZE_BINS[i - 1]}_${b === Infinity ? "max" : b - 1}`),
  ...SCALAR_FEATURES,
  ...Array.from({ length: HASH_BUCKETS }, (_, i) => `token_${i}`),
];
const DIM = FINGERPRINT_FEATURES.length;
const SIZE_OFFSET = PROTOCOL_FEATURES.length;
const SCALAR_OFFSET = SIZE_OFFSET + SIZE_BINS.length;
const TOKEN_OFFSET = SCALAR_OFFSET + SCALAR_FEATURES.length;

/** Packets of a host that its fingerprint is built from (IoT Sentinel fingerprints the first packets of setup). */
export const FINGERPRINT_PACKETS = 200;

export class HostFingerprint {
  /** Counts per feature (protocol and size features are divided by `packets` in `vector()`). */
  readonly #counts = new Float64Array(DIM);
  readonly #dst = new Set<number | string>();
  readonly #ports = new Set<number>();
  #bytes = 0;
  packets = 0;

  get full(): boolean {
    return this.packets >= FINGERPRINT_PACKETS;
  }

  /** Adds one packet the host sent. */
  add(p: DecodedPacket): void {
    if (this.packets >= FINGERPRINT_PACKETS) return;
    this.packets++;
    this.#bytes += p.wireLen;
    const c = this.#counts;
    if (p.etherType === EtherType.Arp) c[0]!++;
    if (p.ipVersion === 4) c[1]!++;
    if (p.ipVersion === 6) c[2]!++;
    if (p.proto === IpProto.Icmp) c[3]!++;
    if (p.proto === IpProto.Icmpv6) c[4]!++;
    if (p.proto === IpProto.Igmp) c[5]!++;
    if (p.proto === IpProto.Tcp) c[6]!++;
    if (p.proto === IpProto.Udp) c[7]!++;
    if (p.etherType === EtherType.Eapol) c[8]!++;
    const app = p.app;
    if (app === App.Dhcp) c[9]!++;
    else if (app === App.Dns) c[10]!++;
    else if (app === App.Mdns) c[11]!++;
    else if (app === App.Ssdp) c[12]!++;
    else if (app === App.Http) c[13]!++;
    else if (app === App.Https) c[14]!++;
    else if (app === App.Ntp) c[15]!++;
    else if (app === App.Mqtt || app === App.MqttTls) c[16]!++;
    else if (app === App.Llmnr) c[17]!++;
    else if (app === App.Dhcpv6) c[18]!++;
    if (p.ipOptions) c[19]!++;
    const dstMac = p.dstMac;
    // Group bit of the first octet (multicast, broadcast).
    const groupMac = dstMac >= 0 && Math.floor(dstMac / 1099511627776) % 2 === 1;
    const v4Multicast = p.ipVersion === 4 && (p.dst4 >>> 28 === 0xe || p.dst4 === 0xffffffff);
    const v6Multicast = p.ipVersion === 6 && p.buf[p.dst6] === 0xff;
    if (groupMac || v4Multicast || v6Multicast) c[20]!++;
    if (p.proto === IpProto.Tcp && (p.tcpFlags & 0x12) === 0x02) c[21]!++;
    if (p.dstPort >= 0) {
      // The service side of the conversation: the smaller port.
      const port = Math.min(p.srcPort, p.dstPort);
      if (port < 1024) c[22]!++;
      else if (port < 49152) c[23]!++;
      else c[24]!++;
      if (this.#ports.size < 256) this.#ports.add(port);
    }
    let bin = 0;
    while (p.wireLen >= SIZE_BINS[bin]!) bin++;
    c[SIZE_OFFSET + bin]!++;
    if (this.#dst.size < 256) {
      if (p.ipVersion === 4) this.#dst.add(p.dst4);
      else if (p.ipVersion === 6) this.#dst.add(p.buf.toString("hex", p.dst6, p.dst6 + 16));
    }
  }

  /** Adds a textual clue (DHCP option, DNS name, user agent) as hashed tokens. */
  addClue(kind: "hostname" | "vendor" | "prl" | "dns" | "agent" | "mqtt", text: string): void {
    for (const token of clueTokens(kind, text)) this.#counts[TOKEN_OFFSET + (hash(token) % HASH_BUCKETS)] = 1;
  }

  /** The feature vector: protocol and size features as fractions of packets, scalars, token bits. */
  vector(): Float64Array {
    const v = new Float64Array(DIM);
    const n = Math.max(1, this.packets);
    for (let i = 0; i < SCALAR_OFFSET; i++) v[i] = this.#counts[i]! / n;
    v[SCALAR_OFFSET] = Math.log1p(this.packets);
    v[SCALAR_OFFSET + 1] = Math.log1p(this.#dst.size);
    v[SCALAR_OFFSET + 2] = Math.log1p(this.#ports.size);
    v[SCALAR_OFFSET + 3] = this.#bytes / n / 1500;
    for (let i = TOKEN_OFFSET; i < DIM; i++) v[i] = this.#counts[i]!;
    return v;
  }
}

/** Tokens of a clue: letters only (digits and hex runs are unit-specific, e.g. a MAC suffix in a hostname). */
function clueTokens(kind: string, text: string): string[] {
  const lower = text.toLowerCase();
  if (kind === "prl") return [`prl:${lower}`];
  if (kind === "dns") {
    const labels = lower.split(".").filter(Boolean);
    // The registrable-looking suffix (last two labels) says who the device talks to.
    return labels.length >= 2 ? [`dns:${labels.slice(-2).join(".")}`] : [];
  }
  const words = lower.split(/[^a-z]+/).filter((w) => w.length >= 3 && !/^[a-f]+$/.test(w));
  return words.slice(0, 8).map((w) => `${kind}:${w}`);
}

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface FingerprintModelData {
  readonly format: "vigil-fingerprints/1";
  /** How it was produced (data set, command), for the record. */
  readonly note: string;
  readonly features: readonly string[];
  /** Per-feature scale (standard deviation over the training vectors, floored). */
  readonly scale: readonly number[];
  readonly types: readonly { readonly type: string; readonly centroid: readonly number[]; readonly samples: number }[];
  /** Beyond this standardised distance to the nearest centroid a host is `unknown`. */
  readonly unknownDistance: number;
}

export interface Identification {
  readonly type: string;
  /** 0..1: share of the nearest type in a softmax over negative distances. 0 for unknown. */
  readonly confidence: number;
  readonly distance: number;
}

export class FingerprintModel {
  readonly data: FingerprintModelData;

  constructor(data: FingerprintModelData) {
    this.data = data;
  }

  /** Nearest-centroid training: one centroid per type from its hosts' vectors. */
  static train(samples: readonly { type: string; vector: Float64Array }[], note: string): FingerprintModel {
    if (samples.length === 0)
      throw new VigilError("NET_MODEL_INVALID", "no training samples", { hint: "Give at least one capture per device type." });
    const scale = new Array<number>(DIM).fill(0);
    const mean = new Array<number>(DIM).fill(0);
    for (const s of samples) for (let i = 0; i < DIM; i++) mean[i]! += s.vector[i]! / samples.length;
    for (const s of samples) for (let i = 0; i < DIM; i++) scale[i]! += (s.vector[i]! - mean[i]!) ** 2 / samples.length;
    // Floor the scale so that a feature constant in training cannot dominate the distance.
    for (let i = 0; i < DIM; i++) scale[i] = Math.max(Math.sqrt(scale[i]!), 0.05);
    const byType = new Map<string, Float64Array[]>();
    for (const s of samples) byType.set(s.type, [...(byType.get(s.type) ?? []), s.vector]);
    const types = [...byType].map(([type, vectors]) => {
      const centroid = new Array<number>(DIM).fill(0);
      for (const v of vectors) for (let i = 0; i < DIM; i++) centroid[i]! += v[i]! / vectors.length;
      return { type, centroid: centroid.map((x) => Number(x.toPrecision(5))), samples: vectors.length };
    });
    // Unknown beyond 1.5x the largest distance between two type centroids' nearest neighbours.
    const provisional = new FingerprintModel({
      format: "vigil-fingerprints/1",
      note,
      features: FINGERPRINT_FEATURES,
      scale: scale.map((x) => Number(x.toPrecision(5))),
      types,
      unknownDistance: Infinity,
    });
    let spread = 0;
    for (const t of types) {
      let nearest = Infinity;
      for (const u of types)
        if (u !== t) nearest = Math.min(nearest, provisional.distance(Float64Array.from(t.centroid), u.centroid));
      if (Number.isFinite(nearest)) spread = Math.max(spread, nearest);
    }
    return new FingerprintModel({
      ...provisional.data,
      unknownDistance: Number((spread > 0 ? 1.5 * spread : 10).toPrecision(4)),
    });
  }

  static parse(json: unknown): FingerprintModel {
    const d = json as Partial<FingerprintModelData> | null;
    const ok =
      typeof d === "object" &&
      d !== null &&
      d.format === "vigil-fingerprints/1" &&
      Array.isArray(d.features) &&
      d.features.length === DIM &&
      d.features.every((f, i) => f === FINGERPRINT_FEATURES[i]) &&
      Array.isArray(d.scale) &&
      d.scale.length === DIM &&
      d.scale.every((x) => typeof x === "number" && x > 0) &&
      Array.isArray(d.types) &&
      d.types.length > 0 &&
      (d.types as unknown[]).every((entry) => {
        const t = entry as { type?: unknown; centroid?: unknown } | null;
        return (
          typeof t === "object" &&
          t !== null &&
          typeof t.type === "string" &&
          Array.isArray(t.centroid) &&
          t.centroid.length === DIM &&
          (t.centroid as unknown[]).every((x) => typeof x === "number" && Number.isFinite(x))
        );
      }) &&
      typeof d.unknownDistance === "number";
    if (!ok) {
      throw new VigilError(
        "NET_MODEL_INVALID",
        "the fingerprint model is not a vigil-fingerprints/1 model with this version's features",
        {
          hint: "Regenerate it with `vigil net fingerprints train DIR --out FILE`.",
        },
      );
    }
    return new FingerprintModel(d as FingerprintModelData);
  }

  distance(v: Float64Array, centroid: readonly number[]): number {
    let s = 0;
    const scale = this.data.scale;
    for (let i = 0; i < DIM; i++) s += ((v[i]! - centroid[i]!) / scale[i]!) ** 2;
    return Math.sqrt(s / DIM);
  }

  /**
   * The nearest type, or `unknown` when it is farther than `unknownDistance` or does not stand
   * out from the others (confidence below `minConfidence`, default 0.4): a router or a phone
   * on the network should come out unknown, not as the least unlikely device type.
   */
  identify(v: Float64Array, minConfidence = 0.4): Identification {
    const ds = this.data.types.map((t) => ({ type: t.type, d: this.distance(v, t.centroid) })).sort((a, b) => a.d - b.d);
    const best = ds[0]!;
    if (best.d > this.data.unknownDistance) return { type: "unknown", confidence: 0, distance: Number(best.d.toFixed(4)) };
    // Softmax over negative distances, sharpened: how much the nearest type stands out.
    const weights = ds.map((x) => Math.exp(-(x.d - best.d) * 4));
    const confidence = Number((weights[0]! / weights.reduce((a, b) => a + b, 0)).toFixed(3));
    if (confidence < minConfidence) return { type: "unknown", confidence, distance: Number(best.d.toFixed(4)) };
    return { type: best.type, confidence, distance: Number(best.d.toFixed(4)) };
  }
}
