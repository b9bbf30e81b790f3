/**
 * Builds well-formed frames (Ethernet/802.1Q, IPv4/IPv6, TCP/UDP) for tests and for the
 * benchmark's synthetic churn. Checksums are computed, so that other tools accept them.
 */

export interface FrameSpec {
  readonly srcMac?: string;
  readonly dstMac?: string;
  readonly vlan?: number;
  readonly src: string;
  readonly dst: string;
  readonly proto: "tcp" | "udp";
  readonly sport: number;
  readonly dport: number;
  /** TCP flags byte (default ACK). */
  readonly flags?: number;
  readonly payload?: Uint8Array;
  readonly ttl?: number;
}

function macBytes(text: string): number[] {
  return text.split(/[:-]/).map((h) => parseInt(h, 16));
}

function ipv4Bytes(text: string): number[] {
  return text.split(".").map(Number);
}

function ipv6Bytes(text: string): number[] {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":").filter(Boolean) : [];
  const t = tail ? tail.split(":").filter(Boolean) : [];
  const words = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t].map((w) => parseInt(w, 16));
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function checksum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function sumWords(bytes: number[]): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  return s;
}

/** The IP packet (no link layer). */
export function ipPacket(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? new Uint8Array(0);
  const v6 = spec.src.includes(":");
  const l4 = Buffer.alloc((spec.proto === "tcp" ? 20 : 8) + payload.length);
  l4.writeUInt16BE(spec.sport, 0);
  l4.writeUInt16BE(spec.dport, 2);
  if (spec.proto === "tcp") {
    l4.writeUInt32BE(1, 4);
    l4[12] = 5 << 4;
    l4[13] = spec.flags ?? 0x10;
    l4.writeUInt16BE(65535, 14);
    l4.set(payload, 20);
  } else {
    l4.writeUInt16BE(l4.length, 4);
    l4.set(payload, 8);
  }
  const protoNum = spec.proto === "tcp" ? 6 : 17;
  const src = v6 ? ipv6Bytes(spec.src) : ipv4Bytes(spec.src);
  const dst = v6 ? ipv6Bytes(spec.dst) : ipv4Bytes(spec.dst);
  const pseudo = sumWords([...src, ...dst]) + protoNum + l4.length;
  const ck = checksum(l4, pseudo);
  l4.writeUInt16BE(ck === 0 && spec.proto === "udp" ? 0xffff : ck, spec.proto === "tcp" ? 16 : 6);
  if (v6) {
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(l4.length, 4);
    h[6] = protoNum;
    h[7] = spec.ttl ?? 64;
    h.set(src, 8);
    h.set(dst, 24);
    return Buffer.concat([h, l4]);
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = spec.ttl ?? 64;
  h[9] = protoNum;
  h.set(src, 12);
  h.set(dst, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, l4]);
}

/** An Ethernet frame (with an 802.1Q tag when `vlan` is set) around `ipPacket(spec)`. */
export function ethernetFrame(spec: FrameSpec): Buffer {
  const ip = ipPacket(spec);
  const v6 = spec.src.includes(":");
  const tag = spec.vlan !== undefined ? 4 : 0;
  const h = Buffer.alloc(14 + tag);
  h.set(macBytes(spec.dstMac ?? "02:00:00:00:00:02"), 0);
  h.set(macBytes(spec.srcMac ?? "02:00:00:00:00:01"), 6);
  if (spec.vlan !== undefined) {
    h.writeUInt16BE(0x8100, 12);
    h.writeUInt16BE(spec.vlan & 0x0fff, 14);
  }
  h.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12 + tag);
  return Buffer.concat([h, ip]);
}

/** A Linux cooked (SLL, LINKTYPE 113) frame around `ipPacket(spec)`. */
export function sllFrame(spec: FrameSpec, hatype = 1): Buffer {
  const ip = ipPacket(spec);
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0);
  h.writeUInt16BE(hatype, 2);
  h.writeUInt16BE(6, 4);
  h.set(macBytes(spec.srcMac ?? "02:00:00:00:00:01"), 6);
  h.writeUInt16BE(spec.src.includes(":") ? 0x86dd : 0x0800, 14);
  return Buffer.concat([h, ip]);
}
