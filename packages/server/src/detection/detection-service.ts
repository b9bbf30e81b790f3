import type { Clock, Logger } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";
import type { DetectionConfig } from "./detection-config.js";
import { Detector, type DetectionEnforcer, type Finding, type ProfileEnvelope } from "./detector.js";
import { AssetDirectory } from "./asset-directory.js";
import { NetworkAttribution, hostOfEndpoint } from "./network-attribution.js";

export interface DetectionServiceDeps {
  readonly config: DetectionConfig;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  /** The gateway once it runs (disconnect / quarantine ports). */
  readonly enforcer: () => DetectionEnforcer | undefined;
  /** A profile's declared envelope (rate limit, largest payload): a new profile's first windows are judged against it. */
  readonly envelope?: (profile: string) => ProfileEnvelope | undefined;
}

const EVIDENCE_CHARS = 4000;

/**
 * Detection as a platform service: subscribes to the gateway's signals, exposes the inline
 * observer the gateway calls on every allowed PUBLISH, and raises `finding.raised` (trust
 * and response subscribe). Constructors only assign; `start` subscribes and starts the
 * eviction timer.
 */
export class DetectionService {
  readonly detector: Detector;
  /** Which device holds an IP address, for packet-analysis alerts (network-attribution.ts). */
  readonly network = new NetworkAttribution();
  /** The hosts packet analysis has seen, enrolled / identified / unknown (asset-directory.ts). */
  readonly assets = new AssetDirectory((ip) => this.network.deviceAt(ip));
  readonly #deps: DetectionServiceDeps;
  #offs: (() => void)[] = [];
  #sweep: NodeJS.Timeout | undefined;

  constructor(deps: DetectionServiceDeps) {
    this.#deps = deps;
    this.detector = new Detector({
      config: deps.config,
      enforcer: deps.enforcer,
      ...(deps.envelope !== undefined ? { envelope: deps.envelope } : {}),
      emit: (finding) => this.#emit(finding),
      onError: (error) => deps.log.error({ err: error }, "detection failed"),
    });
  }

  /** The gateway's inline observer (bound once: no allocation per message). */
  readonly observe = (device: string, topic: string, bytes: number, now: number, payload?: Uint8Array): boolean =>
    this.detector.observe(device, topic, bytes, now, payload);

  async start(): Promise<void> {
    const { bus, clock } = this.#deps;
    const d = this.detector;
    this.#offs = [
      bus.on("gateway.connected", (e) => {
        d.connected(e.device, e.profile, e.remote, clock.now());
        this.network.sessionFrom(e.device, e.remote);
      }),
      bus.on("asset.discovered", (e) => this.assets.discovered(e, clock.now())),
      bus.on("asset.identified", (e) => this.assets.identified(e, clock.now())),
      bus.on("network.anomaly_detected", (e) => {
        const now = clock.now();
        this.assets.anomaly(hostOfEndpoint(e.src), e.source, now);
        const scan = this.network.alert({ src: e.src, dst: e.dst, score: e.score }, now);
        if (scan !== undefined) d.networkScan(scan.device, { ...scan, source: e.source }, now);
      }),
      bus.on("gateway.disconnected", (e) => d.disconnected(e.device, clock.now())),
      bus.on("gateway.connect_refused", (e) => d.refused(e.device, e.remote, e.reason, clock.now())),
      bus.on("gateway.denied", (e) => d.denied(e.device, e.action, e.topic, e.reason, clock.now())),
      bus.on("gateway.throttled", (e) => d.throttled(e.device, e.topic, e.dropped, clock.now())),
      bus.on("identity.cloned_suspected", (e) => d.cloned(e.device, e.remotes, e.sameHost, clock.now())),
    ];
    const every = Math.min(60_000, Math.max(1000, Math.floor(this.#deps.config.idleEvictMs / 4)));
    this.#sweep = setInterval(() => {
      const evicted = d.sweep(clock.now());
      if (evicted > 0) this.#deps.log.debug({ evicted }, "idle device state evicted");
    }, every);
    this.#sweep.unref();
  }

  async stop(): Promise<void> {
    for (const off of this.#offs) off();
    this.#offs = [];
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.detector.flush();
  }

  findings(): readonly Finding[] {
    return this.detector.findings();
  }

  #emit(f: Finding): void {
    const evidence = JSON.stringify({
      ...f.evidence,
      confidence: f.confidence,
      action: f.action,
      detectToBlockMs: f.detectToBlockMs === null ? null : Math.round(f.detectToBlockMs * 1000) / 1000,
    });
    this.#deps.log.info({ device: f.device, rule: f.rule, severity: f.severity, action: f.action }, "finding raised");
    this.#deps.bus.emit("finding.raised", {
      id: f.id,
      device: f.device,
      rule: f.rule,
      severity: f.severity,
      category: f.category,
      evidence: evidence.length > EVIDENCE_CHARS ? `${evidence.slice(0, EVIDENCE_CHARS - 1)}…` : evidence,
    });
  }
}
