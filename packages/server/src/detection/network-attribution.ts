/**
 * Turns packet-analysis alerts (`network.anomaly_detected`, addressed by IP) into evidence
 * about a device: which device holds the alert's source address, and whether its anomalous
 * packets look like a scan (many destinations in a short time, as Mirai's telnet scanner
 * does). Addresses are learnt from where each device's MQTT session comes from (mutual TLS
 * proves who it is) and from bindings given by the site (a DHCP lease table or IPAM). An
 * address more than one live device comes from (NAT, a shared host) attributes nothing:
 * blaming the wrong device is worse than not blaming any.
 *
 * State is bounded: at most `maxAddresses` bindings and `maxTracked` devices with open
 * windows; the oldest are dropped first.
 */
export interface NetworkAttributionConfig {
  /** Anomalous packets from one device within `windowMs` that make a scan... */
  readonly minAlerts: number;
  /** ...when they went to at least this many distinct destination hosts. */
  readonly minDestinations: number;
  readonly windowMs: number;
  readonly maxAddresses: number;
  readonly maxTracked: number;
}

export const NETWORK_ATTRIBUTION_DEFAULTS: NetworkAttributionConfig = Object.freeze({
  minAlerts: 20,
  minDestinations: 10,
  windowMs: 10_000,
  maxAddresses: 200_000,
  maxTracked: 10_000,
});

/** What a scan finding carries as evidence. */
export interface ScanEvidence {
  readonly device: string;
  readonly address: string;
  readonly alerts: number;
  readonly destinations: number;
  /** Destination ports probed, most probed first (at most 8). */
  readonly ports: readonly { port: string; packets: number }[];
  readonly maxScore: number;
  readonly windowMs: number;
  /** Where the address came from: the device's own session, or the site's binding. */
  readonly addressFrom: "session" | "site";
}

interface Binding {
  /** The devices seen at this address (more than one: ambiguous). */
  readonly devices: Set<string>;
  from: "session" | "site";
}

interface Window {
  start: number;
  alerts: number;
  maxScore: number;
  readonly destinations: Set<string>;
  readonly ports: Map<string, number>;
  reported: boolean;
}

/**
 * The host of an endpoint as the gateway and packet analysis report it: `host:port` (IPv4, or
 * IPv4-mapped IPv6 such as `::ffff:10.0.0.5:5000`), `[v6]:port`, or a bare host, IPv6 address or MAC.
 */
export function hostOfEndpoint(endpoint: string): string {
  if (endpoint.startsWith("[")) return endpoint.slice(1, endpoint.indexOf("]"));
  const m = /^(.*):(\d+)$/.exec(endpoint);
  return m !== null && (m[1]!.includes(".") || !m[1]!.includes(":")) ? m[1]! : endpoint;
}

function portOfEndpoint(endpoint: string): string {
  const host = hostOfEndpoint(endpoint);
  if (host === endpoint) return "-";
  return endpoint.slice(endpoint.lastIndexOf(":") + 1);
}

export class NetworkAttribution {
  readonly #config: NetworkAttributionConfig;
  readonly #addresses = new Map<string, Binding>();
  readonly #windows = new Map<string, Window>();
  /** Alerts whose source no single device holds (counted, not attributed). */
  unattributed = 0;

  constructor(config: Partial<NetworkAttributionConfig> = {}) {
    this.#config = { ...NETWORK_ATTRIBUTION_DEFAULTS, ...config };
  }

  /** A device's session came from `remote` (`host:port`). */
  sessionFrom(device: string, remote: string): void {
    this.#bind(hostOfEndpoint(remote), device, "session");
  }

  /** The site says `address` is held by `device` (a DHCP lease, an IPAM record): it replaces what was learnt. */
  bind(address: string, device: string): void {
    this.#addresses.delete(address);
    this.#bind(address, device, "site");
  }

  /** The single device at `address`, or undefined (unknown or shared). */
  deviceAt(address: string): string | undefined {
    const b = this.#addresses.get(address);
    if (b === undefined || b.devices.size !== 1) return undefined;
    return b.devices.values().next().value;
  }

  /**
   * One anomalous packet (or packet pair) from packet analysis. Returns the scan evidence the
   * first time a device's window crosses both thresholds, else undefined.
   */
  alert(alert: { src: string; dst: string; score: number }, now: number): ScanEvidence | undefined {
    const address = hostOfEndpoint(alert.src);
    const device = this.deviceAt(address);
    if (device === undefined) {
      this.unattributed++;
      return undefined;
    }
    let w = this.#windows.get(device);
    if (w === undefined || now - w.start > this.#config.windowMs) {
      if (w === undefined && this.#windows.size >= this.#config.maxTracked) {
        const oldest = this.#windows.keys().next().value;
        if (oldest !== undefined) this.#windows.delete(oldest);
      }
      w = { start: now, alerts: 0, maxScore: 0, destinations: new Set(), ports: new Map(), reported: false };
      this.#windows.delete(device);
      this.#windows.set(device, w);
    }
    w.alerts++;
    w.maxScore = Math.max(w.maxScore, alert.score);
    // Destination sets are capped: past the threshold more names add nothing.
    if (w.destinations.size < this.#config.minDestinations * 4) w.destinations.add(hostOfEndpoint(alert.dst));
    const port = portOfEndpoint(alert.dst);
    if (w.ports.size < 64 || w.ports.has(port)) w.ports.set(port, (w.ports.get(port) ?? 0) + 1);
    if (w.reported || w.alerts < this.#config.minAlerts || w.destinations.size < this.#config.minDestinations) return undefined;
    w.reported = true;
    const binding = this.#addresses.get(address);
    return {
      device,
      address,
      alerts: w.alerts,
      destinations: w.destinations.size,
      ports: [...w.ports.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([port, packets]) => ({ port, packets })),
      maxScore: Math.round(w.maxScore * 1000) / 1000,
      windowMs: this.#config.windowMs,
      addressFrom: binding?.from ?? "session",
    };
  }

  /** Bindings and open windows held (the bounded state). */
  size(): { addresses: number; windows: number } {
    return { addresses: this.#addresses.size, windows: this.#windows.size };
  }

  #bind(address: string, device: string, from: "session" | "site"): void {
    const existing = this.#addresses.get(address);
    if (existing !== undefined) {
      // A site binding is authoritative: a session from the same address does not make it shared.
      if (existing.from === "site" && from === "session") return;
      existing.devices.add(device);
      return;
    }
    if (this.#addresses.size >= this.#config.maxAddresses) {
      const oldest = this.#addresses.keys().next().value;
      if (oldest !== undefined) this.#addresses.delete(oldest);
    }
    this.#addresses.set(address, { devices: new Set([device]), from });
  }
}
