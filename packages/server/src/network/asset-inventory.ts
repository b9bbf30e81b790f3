import type { SignalBus } from "../signals/index.js";
import { formatIpv4, formatIpv6, formatMac } from "./addresses.js";
import { parseDhcp, parseDnsNames, parseHttpLikeHeaders, parseMqttConnect } from "./app-protocols.js";
import { HostFingerprint, type FingerprintModel, type Identification } from "./device-fingerprint.js";
import { App, EtherType, type DecodedPacket } from "./packet-decoder.js";

/**
 * Asset discovery: every host that *sends* on the network, keyed by its MAC (or by its IP when
 * the capture has no usable MAC: raw IP, loopback, SLL with a zero address), matched to the
 * enrolled devices through the `KnownDevices` port. A host that matches none is announced
 * once as `asset.discovered`; once its fingerprint is complete (or at the end of a capture)
 * its device type is identified (`asset.identified`).
 *
 * The table is bounded (`capacity` hosts): the host seen least recently is forgotten first
 * (a forgotten host that comes back is announced again). Per packet the cost is one Map
 * lookup by a numeric key; payload parsing happens only for the few packets that identify a
 * host (DHCP, DNS/mDNS, SSDP/HTTP, MQTT CONNECT), and only while its record has room.
 */

/**
 * Port to the device registry (a later wiring backs it with an in-memory index of enrolled
 * devices). Lookups are synchronous because they run on the packet path; they happen once per
 * new host, not per packet. Returns the device id, or undefined.
 */
export interface KnownDevices {
  lookupByMac(mac: string): string | undefined;
  lookupByIp(ip: string): string | undefined;
}

export const noKnownDevices: KnownDevices = { lookupByMac: () => undefined, lookupByIp: () => undefined };

export interface HostRecord {
  readonly key: string;
  readonly mac: string | null;
  readonly ips: Set<string>;
  firstSeen: number;
  lastSeen: number;
  packets: number;
  bytes: number;
  /** Enrolled device this host is, when the registry knows it. */
  device: string | undefined;
  hostname?: string;
  vendorClass?: string;
  dhcpParameters?: number[];
  readonly dnsNames: Set<string>;
  readonly userAgents: Set<string>;
  readonly mqttClientIds: Set<string>;
  readonly fingerprint: HostFingerprint;
  identification: Identification | undefined;
}

export interface AssetInventoryOptions {
  readonly known?: KnownDevices;
  readonly signals?: Pick<SignalBus, "emit">;
  readonly model?: FingerprintModel;
  /** Most hosts kept; default 4096. */
  readonly capacity?: number;
  /** Where the packets come from (file name, `stdin`, interface), carried in signals. */
  readonly source?: string;
}

const MAX_CLUES = 16;
const MAX_IPS = 8;

export class AssetInventory {
  readonly #hosts = new Map<number | string, HostRecord>();
  readonly #known: KnownDevices;
  readonly #signals: Pick<SignalBus, "emit"> | undefined;
  readonly #model: FingerprintModel | undefined;
  readonly #capacity: number;
  readonly #source: string;
  #evicted = 0;

  constructor(options: AssetInventoryOptions = {}) {
    this.#known = options.known ?? noKnownDevices;
    this.#signals = options.signals;
    this.#model = options.model;
    this.#capacity = options.capacity ?? 4096;
    this.#source = options.source ?? "capture";
  }

  get size(): number {
    return this.#hosts.size;
  }

  /** Hosts forgotten to stay within capacity. */
  get evicted(): number {
    return this.#evicted;
  }

  hosts(): HostRecord[] {
    return [...this.#hosts.values()];
  }

  observe(p: DecodedPacket): void {
    const usableMac = p.srcMac > 0 && !isGroupMac(p.srcMac);
    let key: number | string;
    if (usableMac) key = p.srcMac;
    else if (p.ipVersion === 4)
      key = -1 - p.src4; // negative numbers: IPv4-keyed hosts
    else if (p.ipVersion === 6) key = `ip6:${p.buf.toString("hex", p.src6, p.src6 + 16)}`;
    else return;
    let host = this.#hosts.get(key);
    if (host === undefined) {
      host = this.#add(key, usableMac ? formatMac(p.srcMac) : null, p.ts);
    } else if (p.ts - host.lastSeen > 1) {
      // Refresh the LRU position at most once a second per host (Map order = recency).
      this.#hosts.delete(key);
      this.#hosts.set(key, host);
    }
    host.lastSeen = p.ts;
    host.packets++;
    host.bytes += p.wireLen;
    this.#learnIp(host, p, usableMac);
    if (!host.fingerprint.full) {
      host.fingerprint.add(p);
      this.#learnClues(host, p);
      if (host.fingerprint.full) this.#identify(host);
    }
  }

  /** End of input: identify the hosts whose fingerprint is still incomplete. */
  finish(): void {
    for (const host of this.#hosts.values()) if (host.identification === undefined) this.#identify(host);
  }

  #add(key: number | string, mac: string | null, ts: number): HostRecord {
    if (this.#hosts.size >= this.#capacity) {
      const oldest = this.#hosts.keys().next();
      if (!oldest.done) {
        this.#hosts.delete(oldest.value);
        this.#evicted++;
      }
    }
    const host: HostRecord = {
      key: typeof key === "number" ? (key >= 0 ? `mac:${mac}` : `ip:${formatIpv4(-1 - key)}`) : key,
      mac,
      ips: new Set(),
      firstSeen: ts,
      lastSeen: ts,
      packets: 0,
      bytes: 0,
      device: mac !== null ? this.#known.lookupByMac(mac) : undefined,
      dnsNames: new Set(),
      userAgents: new Set(),
      mqttClientIds: new Set(),
      fingerprint: new HostFingerprint(),
      identification: undefined,
    };
    this.#hosts.set(key, host);
    return host;
  }

  #learnIp(host: HostRecord, p: DecodedPacket, byMac: boolean): void {
    if (host.ips.size >= MAX_IPS) return;
    let ip: string | undefined;
    if (p.ipVersion === 4 && p.src4 !== 0) {
      // Behind a MAC, only local addresses are the host's own; others are routed through it.
      if (!byMac || isLocalIpv4(p.src4)) ip = formatIpv4(p.src4);
    } else if (p.ipVersion === 6) {
      const first = p.buf[p.src6]!;
      const local = first === 0xfe || (first & 0xfe) === 0xfc;
      if (!byMac || local) ip = formatIpv6(p.buf, p.src6);
    } else if (p.etherType === EtherType.Arp && p.arpSenderIp !== 0) {
      ip = formatIpv4(p.arpSenderIp);
    }
    if (ip === undefined || host.ips.has(ip)) return;
    const first = host.ips.size === 0;
    host.ips.add(ip);
    if (host.device === undefined) host.device = this.#known.lookupByIp(ip);
    if (first && host.device === undefined) {
      this.#signals?.emit("asset.discovered", {
        mac: host.mac,
        ip,
        firstSeen: new Date(host.firstSeen * 1000).toISOString(),
        source: this.#source,
      });
    }
  }

  #learnClues(host: HostRecord, p: DecodedPacket): void {
    const fp = host.fingerprint;
    switch (p.app) {
      case App.Dhcp: {
        if (p.srcPort !== 68) return;
        const dhcp = parseDhcp(p);
        if (!dhcp) return;
        if (dhcp.hostname) fp.addClue("hostname", (host.hostname = dhcp.hostname));
        if (dhcp.vendorClass) fp.addClue("vendor", (host.vendorClass = dhcp.vendorClass));
        if (dhcp.parameterRequestList) {
          host.dhcpParameters = dhcp.parameterRequestList;
          fp.addClue("prl", dhcp.parameterRequestList.join(","));
        }
        return;
      }
      case App.Dns:
      case App.Mdns:
      case App.Llmnr: {
        if (host.dnsNames.size >= MAX_CLUES) return;
        for (const name of parseDnsNames(p) ?? []) {
          if (host.dnsNames.size >= MAX_CLUES || host.dnsNames.has(name)) continue;
          host.dnsNames.add(name);
          fp.addClue("dns", name);
        }
        return;
      }
      case App.Ssdp:
      case App.Http: {
        if (host.userAgents.size >= 4) return;
        const h = parseHttpLikeHeaders(p);
        const agent = h?.userAgent ?? h?.server;
        if (agent && !host.userAgents.has(agent)) {
          host.userAgents.add(agent);
          fp.addClue("agent", agent);
        }
        return;
      }
      case App.Mqtt: {
        if (host.mqttClientIds.size >= 4) return;
        const c = parseMqttConnect(p);
        if (c) {
          host.mqttClientIds.add(c.clientId);
          fp.addClue("mqtt", c.clientId);
        }
        return;
      }
      default:
        return;
    }
  }

  #identify(host: HostRecord): void {
    if (this.#model === undefined || host.fingerprint.packets === 0) return;
    host.identification = this.#model.identify(host.fingerprint.vector());
    if (host.identification.type !== "unknown") {
      this.#signals?.emit("asset.identified", {
        mac: host.mac,
        ip: [...host.ips][0] ?? null,
        deviceType: host.identification.type,
        confidence: host.identification.confidence,
        source: this.#source,
      });
    }
  }
}

function isGroupMac(mac: number): boolean {
  return Math.floor(mac / 1099511627776) % 2 === 1;
}

/** RFC 1918, link-local, CGNAT and unspecified/loopback: addresses that belong to a local host. */
function isLocalIpv4(ip: number): boolean {
  const a = ip >>> 24;
  const b = (ip >>> 16) & 0xff;
  return (
    a === 10 ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    (a === 100 && b >= 64 && b < 128) ||
    a === 127
  );
}
