import { readCapture } from "./capture-source.js";
import { pcapFileHeader, pcapRecord } from "./capture-writer.js";
import { LinkType } from "./link-types.js";

/**
 * Evaluation streams for the packet detector (used by `bench/packets.ts` and the tests):
 * a benign capture with one attack capture spliced into its second part, the attack's
 * addresses remapped so that a detector cannot separate the classes by address alone.
 * Written for the MQTTset captures (benign traffic as Linux cooked capture on the broker's
 * loopback, attacks on Ethernet, different subnets and broker addresses on different days).
 */

export interface Frame {
  ts: number;
  data: Buffer;
  origLen: number;
}

export interface SplicedStream {
  /** A classic pcap (LINKTYPE_LINUX_SLL), readable by us, tshark and scapy. */
  readonly pcap: Buffer;
  /** 1 for an attack packet, per packet in file order. */
  readonly labels: Uint8Array;
  /** Packets before the first attack packet that train the detectors (all benign). */
  readonly trainPackets: number;
  readonly attackPackets: number;
  readonly benignTestPackets: number;
}

export async function readFrames(file: string): Promise<{ frames: Frame[]; linkType: number }> {
  const frames: Frame[] = [];
  let linkType = -1;
  await readCapture(file, (r) => {
    linkType = r.linkType;
    frames.push({ ts: r.ts, data: Buffer.from(r.buf.subarray(r.offset, r.offset + r.caplen)), origLen: r.origLen });
  });
  return { frames, linkType };
}

/** The benign captures' broker and a fresh address in the sensors' subnet for the attacker. */
export const BENIGN_BROKER = [10, 16, 100, 73] as const;
export const ATTACKER = [192, 168, 0, 200] as const;

/**
 * Rewrites an attack frame as the benign capture's frames look: Linux cooked header with the
 * loopback hardware type and a zero address (as in the benign capture), the broker's address
 * replaced by the benign broker's and the attacker's by `ATTACKER`, checksums recomputed.
 */
export function remapAttackFrame(frame: Frame, linkType: number, broker: number[]): Frame | undefined {
  let ip: Buffer;
  let proto: number;
  if (linkType === LinkType.Ethernet) {
    proto = frame.data.readUInt16BE(12);
    ip = Buffer.from(frame.data.subarray(14));
  } else if (linkType === LinkType.LinuxSll) {
    proto = frame.data.readUInt16BE(14);
    ip = Buffer.from(frame.data.subarray(16));
  } else return undefined;
  if (proto !== 0x0800 || ip.length < 20) return undefined;
  const ihl = (ip[0]! & 0x0f) * 4;
  const isBroker = (o: number) => broker.every((b, i) => ip[o + i] === b);
  for (const o of [12, 16]) ip.set(isBroker(o) ? BENIGN_BROKER : ATTACKER, o);
  ip.writeUInt16BE(0, 10);
  ip.writeUInt16BE(checksum(ip.subarray(0, ihl)), 10);
  if (ip[9] === 6 && ip.length >= ihl + 20) {
    // The TCP checksum covers the addresses; recompute it when the segment was captured whole.
    const total = ip.readUInt16BE(2);
    if (ip.length >= total) {
      const seg = ip.subarray(ihl, total);
      seg.writeUInt16BE(0, 16);
      let pseudo = 0;
      for (let i = 12; i < 20; i += 2) pseudo += ip.readUInt16BE(i);
      pseudo += 6 + seg.length;
      seg.writeUInt16BE(checksum(seg, pseudo), 16);
    }
  }
  const sll = Buffer.alloc(16);
  sll.writeUInt16BE(0, 0); // "sent to us", as every benign packet
  sll.writeUInt16BE(772, 2); // ARPHRD_LOOPBACK, as in the benign capture
  sll.writeUInt16BE(6, 4);
  sll.writeUInt16BE(0x0800, 14);
  const headerDelta = 16 - (linkType === LinkType.Ethernet ? 14 : 16);
  return { ts: frame.ts, data: Buffer.concat([sll, ip]), origLen: frame.origLen + headerDelta };
}

function checksum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The broker of an attack capture: the address on port 1883. */
export function brokerOf(frames: Frame[], linkType: number): number[] {
  for (const f of frames) {
    const off = linkType === LinkType.Ethernet ? 14 : 16;
    const ip = f.data.subarray(off);
    if (ip.length < 24 || ip[0]! >> 4 !== 4) continue;
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip.readUInt16BE(ihl + 2) === 1883) return [...ip.subarray(16, 20)];
    if (ip.readUInt16BE(ihl) === 1883) return [...ip.subarray(12, 16)];
  }
  throw new Error("no MQTT broker (port 1883) in the attack capture");
}

/**
 * Benign frames throughout; attack frames (remapped) shifted to start `attackDelay` seconds
 * after the end of the training part, and merged by time.
 */
export function splice(
  benign: Frame[],
  attack: { frames: Frame[]; linkType: number },
  trainSeconds: number,
  attackDelay: number,
): SplicedStream {
  const t0 = benign[0]!.ts;
  const trainEnd = t0 + trainSeconds;
  const broker = brokerOf(attack.frames, attack.linkType);
  const a0 = attack.frames[0]!.ts;
  const shifted = attack.frames
    .map((f) => remapAttackFrame(f, attack.linkType, broker))
    .filter((f): f is Frame => f !== undefined)
    .map((f) => ({ ...f, ts: trainEnd + attackDelay + (f.ts - a0) }));
  const merged: { f: Frame; attack: boolean }[] = [];
  let i = 0;
  let j = 0;
  while (i < benign.length || j < shifted.length) {
    if (j >= shifted.length || (i < benign.length && benign[i]!.ts <= shifted[j]!.ts))
      merged.push({ f: benign[i++]!, attack: false });
    else merged.push({ f: shifted[j++]!, attack: true });
  }
  const trainPackets = benign.filter((f) => f.ts < trainEnd).length;
  const parts = [pcapFileHeader({ linkType: LinkType.LinuxSll, snaplen: 262144 })];
  for (const m of merged) parts.push(pcapRecord(m.f.ts, m.f.data, { origLen: m.f.origLen }));
  const labels = Uint8Array.from(merged.map((m) => (m.attack ? 1 : 0)));
  return {
    pcap: Buffer.concat(parts),
    labels,
    trainPackets,
    attackPackets: shifted.length,
    benignTestPackets: merged.length - shifted.length - trainPackets,
  };
}
