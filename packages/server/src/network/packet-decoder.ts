import type { PacketRecord } from "./capture-reader.js";
import { LinkType } from "./link-types.js";

/**
 * Header decoding for the hot path: `decodePacket` fills a caller-owned `DecodedPacket`
 * (reused for every packet) with numbers only: no strings, no objects, no copies. Addresses
 * are numbers (a MAC is `hi16 * 2^32 + lo32`, exact in a double; an IPv4 address is a uint32)
 * or, for IPv6, offsets into the packet bytes. A header cut short by the snaplen stops the
 * decoding at the last complete layer and sets `truncated`; nothing throws on bad packets.
 */

export const EtherType = { Ipv4: 0x0800, Arp: 0x0806, Vlan: 0x8100, QinQ: 0x88a8, Ipv6: 0x86dd, Eapol: 0x888e } as const;
export const IpProto = { Icmp: 1, Igmp: 2, Tcp: 6, Udp: 17, Icmpv6: 58 } as const;

/** Well-known application, guessed from ports (cheap; see `app-protocols.ts` for payloads). */
export const App = {
  None: 0,
  Dhcp: 1,
  Dns: 2,
  Mdns: 3,
  Ssdp: 4,
  Http: 5,
  Mqtt: 6,
  Ntp: 7,
  Https: 8,
  Llmnr: 9,
  Dhcpv6: 10,
  MqttTls: 11,
} as const;
export const APP_NAMES = [
  "other",
  "dhcp",
  "dns",
  "mdns",
  "ssdp",
  "http",
  "mqtt",
  "ntp",
  "https",
  "llmnr",
  "dhcpv6",
  "mqtt-tls",
] as const;

export interface DecodedPacket {
  index: number;
  ts: number;
  /** Bytes on the wire (the record's original length). */
  wireLen: number;
  caplen: number;
  linkType: number;
  /** The packet bytes are `buf[start .. start + caplen)` (valid only while the record is). */
  buf: Buffer;
  start: number;
  /** A header was cut short by the capture's snaplen. */
  truncated: boolean;

  /** Link layer: MACs as numbers, -1 when absent (SLL has no destination; raw IP has none). */
  srcMac: number;
  dstMac: number;
  /** Outermost 802.1Q VLAN id, -1 when untagged. */
  vlan: number;
  etherType: number;

  /** 4, 6, or 0 (not IP). */
  ipVersion: number;
  /** Offset of the IP header in `buf`. */
  ipStart: number;
  ipHeaderLen: number;
  /** IP total length (v4) or header + payload length (v6), as declared by the header. */
  ipLen: number;
  ttl: number;
  /** Transport protocol after IPv6 extension headers; -1 when not IP. */
  proto: number;
  /** IPv4 header carries options. */
  ipOptions: boolean;
  /** A fragment (MF set or non-zero offset; or an IPv6 fragment header): no transport header past the first. */
  fragment: boolean;
  /** IPv4 addresses (uint32), or 0. */
  src4: number;
  dst4: number;
  /** Offsets in `buf` of the 16-byte IPv6 addresses, or -1. */
  src6: number;
  dst6: number;

  /** ARP: operation (1 request, 2 reply), sender/target protocol addresses (IPv4), sender MAC; 0 otherwise. */
  arpOp: number;
  arpSenderIp: number;
  arpTargetIp: number;
  arpSenderMac: number;

  /** Transport. Ports -1 when absent. */
  srcPort: number;
  dstPort: number;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10). */
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
  /** Transport payload: offset in `buf`, captured bytes available, and length on the wire. */
  payloadStart: number;
  payloadCaptured: number;
  payloadLen: number;
  /** `App.*` guessed from the ports. */
  app: number;
}

export function newDecodedPacket(): DecodedPacket {
  return {
    index: 0,
    ts: 0,
    wireLen: 0,
    caplen: 0,
    linkType: 0,
    buf: EMPTY,
    start: 0,
    truncated: false,
    srcMac: -1,
    dstMac: -1,
    vlan: -1,
    etherType: 0,
    ipVersion: 0,
    ipStart: 0,
    ipHeaderLen: 0,
    ipLen: 0,
    ttl: 0,
    proto: -1,
    ipOptions: false,
    fragment: false,
    src4: 0,
    dst4: 0,
    src6: -1,
    dst6: -1,
    arpOp: 0,
    arpSenderIp: 0,
    arpTargetIp: 0,
    arpSenderMac: -1,
    srcPort: -1,
    dstPort: -1,
    tcpFlags: 0,
    icmpType: -1,
    icmpCode: -1,
    payloadStart: 0,
    payloadCaptured: 0,
    payloadLen: 0,
    app: 0,
  };
}

const EMPTY = Buffer.alloc(0);

function mac(b: Buffer, o: number): number {
  return ((b[o]! << 8) | b[o + 1]!) * 4294967296 + (((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0);
}

function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Decodes `record` into `out` (every field is reset). */
export function decodePacket(record: PacketRecord, out: DecodedPacket): DecodedPacket {
  const b = record.buf;
  const start = record.offset;
  const end = start + record.caplen;
  out.index = record.index;
  out.ts = record.ts;
  out.wireLen = record.origLen;
  out.caplen = record.caplen;
  out.linkType = record.linkType;
  out.buf = b;
  out.start = start;
  out.truncated = false;
  out.srcMac = -1;
  out.dstMac = -1;
  out.vlan = -1;
  out.etherType = 0;
  out.ipVersion = 0;
  out.ipStart = 0;
  out.ipHeaderLen = 0;
  out.ipLen = 0;
  out.ttl = 0;
  out.proto = -1;
  out.ipOptions = false;
  out.fragment = false;
  out.src4 = 0;
  out.dst4 = 0;
  out.src6 = -1;
  out.dst6 = -1;
  out.arpOp = 0;
  out.arpSenderIp = 0;
  out.arpTargetIp = 0;
  out.arpSenderMac = -1;
  out.srcPort = -1;
  out.dstPort = -1;
  out.tcpFlags = 0;
  out.icmpType = -1;
  out.icmpCode = -1;
  out.payloadStart = end;
  out.payloadCaptured = 0;
  out.payloadLen = 0;
  out.app = 0;

  let p = start;
  let type = 0;
  switch (record.linkType) {
    case LinkType.Ethernet: {
      if (end - p < 14) return cut(out);
      out.dstMac = mac(b, p);
      out.srcMac = mac(b, p + 6);
      type = u16(b, p + 12);
      p += 14;
      // 802.1Q / 802.1ad tags (at most two: QinQ).
      for (let tags = 0; (type === EtherType.Vlan || type === EtherType.QinQ) && tags < 2; tags++) {
        if (end - p < 4) return cut(out);
        if (out.vlan < 0) out.vlan = u16(b, p) & 0x0fff;
        type = u16(b, p + 2);
        p += 4;
      }
      // A value <= 1500 is an 802.3 length (LLC follows): no network layer we decode.
      if (type <= 1500) {
        out.etherType = 0;
        return out;
      }
      break;
    }
    case LinkType.LinuxSll: {
      // pkttype(2) hatype(2) halen(2) addr(8) protocol(2)
      if (end - p < 16) return cut(out);
      if (u16(b, p + 4) === 6) out.srcMac = mac(b, p + 6);
      type = u16(b, p + 14);
      p += 16;
      break;
    }
    case LinkType.LinuxSll2: {
      // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
      if (end - p < 20) return cut(out);
      type = u16(b, p);
      if (b[p + 11] === 6) out.srcMac = mac(b, p + 12);
      p += 20;
      break;
    }
    case LinkType.Null:
    case LinkType.Loop: {
      if (end - p < 4) return cut(out);
      // Address family in the writer's byte order (NULL) or big-endian (LOOP); 2 = IPv4, 24/28/30 = IPv6.
      const le = b.readUInt32LE(p);
      const be = u32(b, p);
      const family = record.linkType === LinkType.Loop ? be : le < 256 ? le : be;
      type = family === 2 ? EtherType.Ipv4 : family === 24 || family === 28 || family === 30 ? EtherType.Ipv6 : 0;
      p += 4;
      break;
    }
    case LinkType.Raw:
    case LinkType.RawAlt12:
    case LinkType.RawAlt14:
      if (end - p < 1) return cut(out);
      type = b[p]! >> 4 === 6 ? EtherType.Ipv6 : EtherType.Ipv4;
      break;
    case LinkType.Ipv4:
      type = EtherType.Ipv4;
      break;
    case LinkType.Ipv6:
      type = EtherType.Ipv6;
      break;
    default:
      return out;
  }
  out.etherType = type;
  if (type === EtherType.Ipv4) decodeIpv4(b, p, end, out);
  else if (type === EtherType.Ipv6) decodeIpv6(b, p, end, out);
  else if (type === EtherType.Arp) decodeArp(b, p, end, out);
  return out;
}

function cut(out: DecodedPacket): DecodedPacket {
  out.truncated = true;
  return out;
}

function decodeArp(b: Buffer, p: number, end: number, out: DecodedPacket): void {
  // RFC 826, Ethernet/IPv4 only: htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4)
  if (end - p < 28) {
    out.truncated = true;
    return;
  }
  if (u16(b, p) !== 1 || u16(b, p + 2) !== EtherType.Ipv4 || b[p + 4] !== 6 || b[p + 5] !== 4) return;
  out.arpOp = u16(b, p + 6);
  out.arpSenderMac = mac(b, p + 8);
  out.arpSenderIp = u32(b, p + 14);
  out.arpTargetIp = u32(b, p + 24);
}

function decodeIpv4(b: Buffer, p: number, end: number, out: DecodedPacket): void {
  if (end - p < 20) {
    out.truncated = true;
    return;
  }
  const vihl = b[p]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) return; // not IPv4 after all: leave ipVersion 0
  out.ipVersion = 4;
  out.ipStart = p;
  out.ipHeaderLen = ihl;
  out.ipLen = u16(b, p + 2);
  out.ttl = b[p + 8]!;
  out.proto = b[p + 9]!;
  out.src4 = u32(b, p + 12);
  out.dst4 = u32(b, p + 16);
  out.ipOptions = ihl > 20;
  const frag = u16(b, p + 6);
  const offset = frag & 0x1fff;
  out.fragment = (frag & 0x2000) !== 0 || offset !== 0;
  if (end - p < ihl) {
    out.truncated = true;
    return;
  }
  // Only the first fragment carries the transport header.
  if (offset !== 0) return;
  const l4Len = Math.max(0, out.ipLen - ihl);
  decodeTransport(b, p + ihl, end, l4Len, out);
}

function decodeIpv6(b: Buffer, p: number, end: number, out: DecodedPacket): void {
  if (end - p < 40) {
    out.truncated = true;
    return;
  }
  if (b[p]! >> 4 !== 6) return;
  out.ipVersion = 6;
  out.ipStart = p;
  out.ipHeaderLen = 40;
  const payload = u16(b, p + 4);
  out.ipLen = 40 + payload;
  out.ttl = b[p + 7]!;
  out.src6 = p + 8;
  out.dst6 = p + 24;
  let next = b[p + 6]!;
  let q = p + 40;
  let left = payload;
  // Extension headers (RFC 8200 §4): hop-by-hop 0, routing 43, fragment 44, destination 60,
  // mobility 135, HIP 139, shim6 140 use (len + 1) * 8; AH 51 uses (len + 2) * 4.
  for (let hops = 0; hops < 8; hops++) {
    if (next !== 0 && next !== 43 && next !== 44 && next !== 60 && next !== 51 && next !== 135 && next !== 139 && next !== 140)
      break;
    if (end - q < 8) {
      out.proto = next;
      out.truncated = true;
      return;
    }
    let len: number;
    if (next === 44) {
      out.fragment = true;
      len = 8;
      // A non-first fragment has no transport header.
      if ((u16(b, q + 2) & 0xfff8) !== 0) {
        out.proto = b[q]!;
        return;
      }
    } else if (next === 51) len = (b[q + 1]! + 2) * 4;
    else len = (b[q + 1]! + 1) * 8;
    next = b[q]!;
    q += len;
    left -= len;
  }
  out.ipHeaderLen = q - p;
  out.proto = next;
  if (q > end) {
    out.truncated = true;
    return;
  }
  decodeTransport(b, q, end, Math.max(0, left), out);
}

function decodeTransport(b: Buffer, p: number, end: number, l4Len: number, out: DecodedPacket): void {
  const proto = out.proto;
  if (proto === IpProto.Tcp) {
    if (end - p < 20) {
      out.truncated = true;
      return;
    }
    out.srcPort = u16(b, p);
    out.dstPort = u16(b, p + 2);
    out.tcpFlags = b[p + 13]!;
    const doff = (b[p + 12]! >> 4) * 4;
    out.payloadStart = Math.min(p + doff, end);
    out.payloadCaptured = end - out.payloadStart;
    out.payloadLen = Math.max(0, l4Len - doff);
    out.app = tcpApp(out.srcPort, out.dstPort);
  } else if (proto === IpProto.Udp) {
    if (end - p < 8) {
      out.truncated = true;
      return;
    }
    out.srcPort = u16(b, p);
    out.dstPort = u16(b, p + 2);
    out.payloadStart = p + 8;
    out.payloadCaptured = end - out.payloadStart;
    out.payloadLen = Math.max(0, Math.min(l4Len, u16(b, p + 4)) - 8);
    out.app = udpApp(out.srcPort, out.dstPort);
  } else if (proto === IpProto.Icmp || proto === IpProto.Icmpv6) {
    if (end - p < 4) {
      out.truncated = true;
      return;
    }
    out.icmpType = b[p]!;
    out.icmpCode = b[p + 1]!;
    out.payloadStart = p + 4;
    out.payloadCaptured = end - out.payloadStart;
    out.payloadLen = Math.max(0, l4Len - 4);
  } else {
    out.payloadStart = p;
    out.payloadCaptured = end - p;
    out.payloadLen = l4Len;
  }
}

function tcpApp(s: number, d: number): number {
  if (s === 1883 || d === 1883) return App.Mqtt;
  if (s === 8883 || d === 8883) return App.MqttTls;
  if (s === 80 || d === 80 || s === 8080 || d === 8080) return App.Http;
  if (s === 443 || d === 443) return App.Https;
  if (s === 53 || d === 53) return App.Dns;
  return App.None;
}

function udpApp(s: number, d: number): number {
  if (s === 67 || d === 67 || s === 68 || d === 68) return App.Dhcp;
  if (s === 5353 || d === 5353) return App.Mdns;
  if (s === 53 || d === 53) return App.Dns;
  if (s === 1900 || d === 1900) return App.Ssdp;
  if (s === 123 || d === 123) return App.Ntp;
  if (s === 5355 || d === 5355) return App.Llmnr;
  if (s === 546 || d === 546 || s === 547 || d === 547) return App.Dhcpv6;
  return App.None;
}
