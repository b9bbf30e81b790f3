import type { SignalBus } from "../signals/index.js";
import { formatIpv4, formatIpv6, formatMac } from "./addresses.js";
import { DampedFeatures, FEATURE_COUNT, FEATURE_NAMES, describeFeature, type FeatureCapacities } from "./damped-features.js";
import { KitNet } from "./kitnet.js";
import { APP_NAMES, EtherType, IpProto, type DecodedPacket } from "./packet-decoder.js";

/**
 * The online packet anomaly detector: damped statistics per packet (`DampedFeatures`),
 * scored by KitNET trained on the first `fmGrace + adGrace` packets of the stream. During
 * the last `calibration` share of training each packet is also scored before it is learnt
 * (prequential), and the alert threshold is set from those scores: log-normal fit, mean +
 * `sigmas` standard deviations (Kitsune's own suggestion for choosing its cut-off).
 *
 * Alerts are explained (the statistics whose reconstruction failed most, with the range seen
 * in training) and merged per host pair: packets of the same src -> dst above the threshold
 * within `mergeSeconds` of each other extend one alert instead of opening new ones.
 */

export interface DetectorOptions {
  /** Packets used to learn the feature grouping. */
  readonly fmGrace: number;
  /** Packets used to train the autoencoders (after fmGrace). */
  readonly adGrace: number;
  /** Share of the training used to calibrate the threshold (default 0.2). */
  readonly calibration?: number;
  /** Threshold = exp(mean + sigmas * sd) of the calibration's log scores (default 4). */
  readonly sigmas?: number;
  /** A fixed threshold instead of the calibrated one. */
  readonly threshold?: number;
  readonly mergeSeconds?: number;
  /** Most alerts kept in memory (the oldest closed ones are dropped); default 10,000. */
  readonly maxAlerts?: number;
  readonly capacities?: Partial<FeatureCapacities>;
  readonly maxGroup?: number;
  readonly signals?: Pick<SignalBus, "emit">;
  readonly source?: string;
}

export interface Deviation {
  readonly statistic: string;
  readonly description: string;
  readonly value: number;
  readonly trainedMin: number;
  readonly trainedMax: number;
}

export interface AnomalyAlert {
  readonly id: number;
  readonly firstPacket: number;
  lastPacket: number;
  /** Seconds since the epoch. */
  readonly start: number;
  end: number;
  packets: number;
  maxScore: number;
  readonly threshold: number;
  readonly src: string;
  readonly dst: string;
  readonly protocol: string;
  /** Explanation of the packet that opened the alert. */
  readonly deviations: readonly Deviation[];
}

export class AnomalyDetector {
  readonly features: DampedFeatures;
  readonly model: KitNet;
  readonly alerts: AnomalyAlert[] = [];
  /** Called when an alert opens (`opened`) or grows. */
  onAlert: ((alert: AnomalyAlert, opened: boolean) => void) | undefined;
  readonly #o: Required<Pick<DetectorOptions, "calibration" | "sigmas" | "mergeSeconds" | "maxAlerts">>;
  readonly #open = new Map<string, AnomalyAlert>();
  readonly #signals: Pick<SignalBus, "emit"> | undefined;
  readonly #source: string;
  readonly #calibrateFrom: number;
  #threshold: number;
  #fixed: boolean;
  #calN = 0;
  #calSum = 0;
  #calSq = 0;
  #processed = 0;
  #nextId = 1;
  #lastTs = 0;

  constructor(options: DetectorOptions) {
    this.features = new DampedFeatures(options.capacities);
    this.model = new KitNet({
      features: FEATURE_COUNT,
      fmGrace: options.fmGrace,
      adGrace: options.adGrace,
      maxGroup: options.maxGroup ?? 10,
    });
    this.#o = {
      calibration: options.calibration ?? 0.2,
      sigmas: options.sigmas ?? 4,
      mergeSeconds: options.mergeSeconds ?? 10,
      maxAlerts: options.maxAlerts ?? 10_000,
    };
    this.#calibrateFrom = options.fmGrace + Math.floor(options.adGrace * (1 - this.#o.calibration));
    this.#threshold = options.threshold ?? Infinity;
    this.#fixed = options.threshold !== undefined;
    this.#signals = options.signals;
    this.#source = options.source ?? "capture";
  }

  /** Alert threshold on the score (Infinity until training ends). */
  get threshold(): number {
    return this.#threshold;
  }

  get training(): boolean {
    return !this.model.executing;
  }

  get processed(): number {
    return this.#processed;
  }

  /** Updates the statistics with one packet and returns its anomaly score (0 while training). */
  process(p: DecodedPacket): number {
    this.#processed++;
    // Time must not run backwards (merged captures, SPB without timestamps).
    if (!(p.ts >= this.#lastTs)) p.ts = this.#lastTs;
    this.#lastTs = p.ts;
    const x = this.features.update(p);
    const model = this.model;
    if (!model.executing) {
      if (model.trained >= this.#calibrateFrom && model.trained >= model.fmGrace) {
        const s = model.execute(x);
        if (s > 0) {
          const l = Math.log(s);
          this.#calN++;
          this.#calSum += l;
          this.#calSq += l * l;
        }
      }
      model.train(x);
      if (model.executing && !this.#fixed) this.#calibrate();
      return 0;
    }
    const score = model.execute(x);
    if (score > this.#threshold) this.#alert(p, x, score);
    return score;
  }

  #calibrate(): void {
    if (this.#calN < 2) return;
    const mean = this.#calSum / this.#calN;
    const sd = Math.sqrt(Math.max(0, this.#calSq / this.#calN - mean * mean));
    this.#threshold = Math.exp(mean + this.#o.sigmas * sd);
  }

  #alert(p: DecodedPacket, x: Float64Array, score: number): void {
    const src = endpoint(p, true);
    const dst = endpoint(p, false);
    const key = `${hostOf(p, true)}>${hostOf(p, false)}`;
    const open = this.#open.get(key);
    if (open !== undefined && p.ts - open.end <= this.#o.mergeSeconds) {
      open.lastPacket = p.index;
      open.end = p.ts;
      open.packets++;
      if (score > open.maxScore) open.maxScore = score;
      this.onAlert?.(open, false);
      return;
    }
    const deviations = this.model.explain(x, 3).map((d) => ({
      statistic: FEATURE_NAMES[d.feature]!,
      description: describeFeature(FEATURE_NAMES[d.feature]!),
      value: round(x[d.feature]!),
      trainedMin: round(d.trainedMin),
      trainedMax: round(d.trainedMax),
    }));
    const alert: AnomalyAlert = {
      id: this.#nextId++,
      firstPacket: p.index,
      lastPacket: p.index,
      start: p.ts,
      end: p.ts,
      packets: 1,
      maxScore: score,
      threshold: this.#threshold,
      src,
      dst,
      protocol: protocolOf(p),
      deviations,
    };
    this.#open.set(key, alert);
    if (this.#open.size > 1024) {
      // Close the stalest open alerts: they will not be extended any more.
      for (const [k, a] of this.#open) if (p.ts - a.end > this.#o.mergeSeconds || this.#open.size > 1024) this.#open.delete(k);
    }
    this.alerts.push(alert);
    if (this.alerts.length > this.#o.maxAlerts) this.alerts.shift();
    this.onAlert?.(alert, true);
    this.#signals?.emit("network.anomaly_detected", {
      at: new Date(p.ts * 1000).toISOString(),
      packet: p.index,
      score: round(score),
      threshold: round(this.#threshold),
      src,
      dst,
      protocol: alert.protocol,
      deviations: deviations.map(({ statistic, value, trainedMin, trainedMax }) => ({
        statistic,
        value,
        trainedMin,
        trainedMax,
      })),
      source: this.#source,
    });
  }
}

function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(5)) : v;
}

function hostOf(p: DecodedPacket, src: boolean): string {
  if (p.ipVersion === 4) return formatIpv4(src ? p.src4 : p.dst4);
  if (p.ipVersion === 6) return formatIpv6(p.buf, src ? p.src6 : p.dst6);
  if (p.etherType === EtherType.Arp && p.arpOp !== 0) return formatIpv4(src ? p.arpSenderIp : p.arpTargetIp);
  return formatMac(src ? p.srcMac : p.dstMac) || "?";
}

function endpoint(p: DecodedPacket, src: boolean): string {
  const host = hostOf(p, src);
  const port = src ? p.srcPort : p.dstPort;
  if (port < 0) return host;
  return p.ipVersion === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function protocolOf(p: DecodedPacket): string {
  if (p.etherType === EtherType.Arp) return "arp";
  if (p.proto === IpProto.Tcp) return p.app ? `tcp/${APP_NAMES[p.app]}` : "tcp";
  if (p.proto === IpProto.Udp) return p.app ? `udp/${APP_NAMES[p.app]}` : "udp";
  if (p.proto === IpProto.Icmp) return "icmp";
  if (p.proto === IpProto.Icmpv6) return "icmpv6";
  if (p.ipVersion !== 0) return `ip/${p.proto}`;
  return `ethertype/0x${p.etherType.toString(16)}`;
}
