import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { ethernetFrame, pcapFileHeader, pcapRecord } from "../network/index.js";
import type { Random } from "./random.js";

/** TCP flags (RFC 9293 §3.1). */
const SYN = 0x02;
const PSH_ACK = 0x18;
const ACK = 0x10;
/** Link type 1: Ethernet (tcpdump LINKTYPE_ETHERNET). */
const LINKTYPE_ETHERNET = 1;

export interface ScanCaptureOptions {
  readonly file: string;
  readonly random: Random;
  /** The infected device's address on the simulated site network. */
  readonly deviceIp: string;
  readonly gatewayIp: string;
  /** Seconds since the epoch: when the scan starts and ends (packet timestamps). */
  readonly start: number;
  readonly end: number;
  /** The device's normal traffic before the scan (seconds), what a detector learns from. */
  readonly baselineSeconds: number;
  /** The device's normal period between telemetry messages (seconds). */
  readonly periodSeconds: number;
  /** Scan probes per second. */
  readonly rate: number;
}

export interface ScanCaptureResult {
  readonly file: string;
  readonly packets: number;
  readonly baselinePackets: number;
  readonly probes: number;
  /** Probes per destination port. */
  readonly ports: Readonly<Record<string, number>>;
  readonly addresses: number;
  readonly ratePerSecond: number;
}

/**
 * Writes a pcap of a Mirai-style scan from an infected device, as a span port would see it:
 * first the device's normal traffic (MQTT over TLS to the gateway, a small record each period
 * and its ACK), then TCP SYN probes at `rate` per second to random public IPv4 addresses —
 * port 23 nine times in ten and 2323 otherwise, as Mirai's scanner does (Antonakakis et al.,
 * "Understanding the Mirai Botnet", USENIX Security 2017, §3), with a few probes of the
 * other ports later variants added (22, 80, 8080, 7547) — while its telemetry continues.
 */
export async function writeScanCapture(o: ScanCaptureOptions): Promise<ScanCaptureResult> {
  await mkdir(dirname(o.file), { recursive: true });
  const handle = await open(o.file, "w", 0o600);
  const deviceMac = "02:00:5e:10:00:07";
  const routerMac = "02:00:5e:10:00:01";
  const chunks: Buffer[] = [pcapFileHeader({ linkType: LINKTYPE_ETHERNET })];
  let packets = 0;
  let baselinePackets = 0;
  let probes = 0;
  const ports: Record<string, number> = {};
  const addresses = new Set<string>();
  const flush = async () => {
    if (chunks.length > 0) await handle.write(Buffer.concat(chunks.splice(0)));
  };
  const emit = async (ts: number, frame: Buffer) => {
    chunks.push(pcapRecord(ts, frame));
    packets++;
    if (chunks.length >= 1_000) await flush();
  };
  const telemetry = async (ts: number, seq: number) => {
    const size = 120 + o.random.int(0, 40);
    await emit(
      ts,
      ethernetFrame({
        srcMac: deviceMac,
        dstMac: routerMac,
        src: o.deviceIp,
        dst: o.gatewayIp,
        proto: "tcp",
        sport: 40_000 + (seq % 7),
        dport: 8883,
        flags: PSH_ACK,
        payload: o.random.bytes(size),
      }),
    );
    await emit(
      ts + 0.002 + o.random.next() * 0.003,
      ethernetFrame({
        srcMac: routerMac,
        dstMac: deviceMac,
        src: o.gatewayIp,
        dst: o.deviceIp,
        proto: "tcp",
        sport: 8883,
        dport: 40_000 + (seq % 7),
        flags: ACK,
      }),
    );
  };
  try {
    let seq = 0;
    for (let ts = o.start - o.baselineSeconds; ts < o.start; ts += o.periodSeconds * (0.8 + 0.4 * o.random.next())) {
      await telemetry(ts, seq++);
      baselinePackets += 2;
    }
    const step = 1 / o.rate;
    let nextTelemetry = o.start + o.periodSeconds * o.random.next();
    for (let ts = o.start; ts < o.end && probes < 1_000_000; ts += step * (0.5 + o.random.next())) {
      while (nextTelemetry <= ts) {
        await telemetry(nextTelemetry, seq++);
        nextTelemetry += o.periodSeconds * (0.8 + 0.4 * o.random.next());
      }
      const r = o.random.next();
      const dport = r < 0.85 ? 23 : r < 0.95 ? 2323 : o.random.pick([22, 80, 8080, 7547]);
      const dst = publicAddress(o.random);
      addresses.add(dst);
      ports[dport] = (ports[dport] ?? 0) + 1;
      probes++;
      await emit(
        ts,
        ethernetFrame({
          srcMac: deviceMac,
          dstMac: routerMac,
          src: o.deviceIp,
          dst,
          proto: "tcp",
          sport: o.random.int(1_024, 65_535),
          dport,
          flags: SYN,
          ttl: 64,
        }),
      );
    }
    await flush();
  } finally {
    await handle.close();
  }
  return {
    file: o.file,
    packets,
    baselinePackets,
    probes,
    ports,
    addresses: addresses.size,
    ratePerSecond: Math.round((probes / Math.max(0.001, o.end - o.start)) * 10) / 10,
  };
}

/** A random routable IPv4 address (not 0/8, 10/8, 127/8, 169.254/16, 172.16/12, 192.168/16, multicast). */
function publicAddress(random: Random): string {
  for (;;) {
    const a = random.int(1, 223);
    const b = random.int(0, 255);
    if (a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168))
      continue;
    return `${a}.${b}.${random.int(0, 255)}.${random.int(1, 254)}`;
  }
}
