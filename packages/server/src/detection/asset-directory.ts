/**
 * The daemon's view of the hosts packet analysis has seen (`asset.discovered`,
 * `asset.identified`, `network.anomaly_detected` on the daemon's bus: in-process packet
 * analysis, which the simulator feeds today; a remote sensor feed is not built). Each host is
 * **enrolled** (an enrolled device holds its address, see network-attribution.ts), **identified** (its device type was recognised from its
 * traffic, but no enrolled device holds it: something to onboard or explain) or **unknown**.
 * Bounded: at most `max` hosts, the least recently seen dropped first.
 */
export type AssetStatus = "enrolled" | "identified" | "unknown";

export interface AssetView {
  /** The host's key: its MAC when known, else its IP. */
  readonly key: string;
  readonly mac: string | null;
  readonly ip: string | null;
  readonly status: AssetStatus;
  /** The enrolled device holding the address, for `enrolled`. */
  readonly device: string | null;
  readonly deviceType: string | null;
  readonly confidence: number | null;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Packet anomalies with this host as the source. */
  readonly anomalies: number;
  /** Where it was seen (the capture source, e.g. `simulator`, `watch:eth0`). */
  readonly source: string;
}

interface Asset {
  mac: string | null;
  ip: string | null;
  deviceType: string | null;
  confidence: number | null;
  firstSeen: number;
  lastSeen: number;
  anomalies: number;
  source: string;
}

export class AssetDirectory {
  readonly #max: number;
  readonly #deviceAt: (ip: string) => string | undefined;
  readonly #assets = new Map<string, Asset>();
  /** IP -> key, for anomalies (which carry addresses only). */
  readonly #byIp = new Map<string, string>();

  constructor(deviceAt: (ip: string) => string | undefined, max = 50_000) {
    this.#deviceAt = deviceAt;
    this.#max = max;
  }

  discovered(e: { mac: string | null; ip: string | null; source: string }, now: number): void {
    this.#touch(e.mac, e.ip, e.source, now);
  }

  identified(
    e: { mac: string | null; ip: string | null; deviceType: string; confidence: number; source: string },
    now: number,
  ): void {
    const a = this.#touch(e.mac, e.ip, e.source, now);
    if (a === undefined) return;
    a.deviceType = e.deviceType;
    a.confidence = e.confidence;
  }

  anomaly(ip: string, source: string, now: number): void {
    const key = this.#byIp.get(ip);
    const a = key === undefined ? this.#touch(null, ip, source, now) : this.#assets.get(key);
    if (a === undefined) return;
    a.anomalies++;
    a.lastSeen = now;
  }

  /** Most recently seen first; `status` filters. */
  list(query: { status?: AssetStatus; limit: number }): AssetView[] {
    const out: AssetView[] = [];
    const all = [...this.#assets.entries()].reverse();
    for (const [key, a] of all) {
      const device = a.ip === null ? undefined : this.#deviceAt(a.ip);
      const status: AssetStatus = device !== undefined ? "enrolled" : a.deviceType !== null ? "identified" : "unknown";
      if (query.status !== undefined && status !== query.status) continue;
      out.push({ key, ...a, status, device: device ?? null });
      if (out.length >= query.limit) break;
    }
    return out;
  }

  get size(): number {
    return this.#assets.size;
  }

  #touch(mac: string | null, ip: string | null, source: string, now: number): Asset | undefined {
    const key = mac ?? ip;
    if (key === null) return undefined;
    let a = this.#assets.get(key) ?? (ip !== null && mac !== null ? this.#adopt(ip, key) : undefined);
    if (a === undefined) {
      if (this.#assets.size >= this.#max) this.#evictOldest();
      a = { mac, ip, deviceType: null, confidence: null, firstSeen: now, lastSeen: now, anomalies: 0, source };
    }
    // Re-insert: the map's order is the recency order (oldest first).
    this.#assets.delete(key);
    this.#assets.set(key, a);
    if (ip !== null) {
      a.ip = ip;
      this.#byIp.set(ip, key);
    }
    if (mac !== null) a.mac = mac;
    a.lastSeen = now;
    a.source = source;
    return a;
  }

  /** A host first seen by IP alone, now with its MAC: one asset, keyed by the MAC from now on. */
  #adopt(ip: string, key: string): Asset | undefined {
    const old = this.#byIp.get(ip);
    if (old === undefined || old === key) return undefined;
    const a = this.#assets.get(old);
    if (a === undefined || a.mac !== null) return undefined;
    this.#assets.delete(old);
    return a;
  }

  #evictOldest(): void {
    const oldest = this.#assets.keys().next();
    if (oldest.done === true) return;
    const a = this.#assets.get(oldest.value);
    this.#assets.delete(oldest.value);
    if (a?.ip != null && this.#byIp.get(a.ip) === oldest.value) this.#byIp.delete(a.ip);
  }
}
