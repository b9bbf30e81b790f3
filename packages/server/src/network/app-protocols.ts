import { formatMac } from "./addresses.js";
import { App, type DecodedPacket } from "./packet-decoder.js";

/**
 * Just enough of DHCP, DNS/mDNS, SSDP, HTTP and MQTT to tell who a host is. These run only
 * on packets the asset table wants to learn from (a handful per host), never on the
 * detector's hot path, so they may allocate strings. Every read is bounds-checked against
 * the captured bytes: a malformed or truncated payload yields `undefined`, never a throw.
 */

export interface DhcpInfo {
  /** DHCP message type (option 53): 1 DISCOVER, 3 REQUEST, 5 ACK... 0 when absent. */
  messageType: number;
  clientMac: string;
  /** Option 12. */
  hostname?: string;
  /** Option 60. */
  vendorClass?: string;
  /** Option 55, in the client's order (a classic fingerprint). */
  parameterRequestList?: number[];
  /** Option 50 or ciaddr/yiaddr, dotted. */
  requestedIp?: string;
}

/** RFC 2131 BOOTP header, RFC 2132 options. */
export function parseDhcp(p: DecodedPacket): DhcpInfo | undefined {
  const b = p.buf;
  const s = p.payloadStart;
  const end = s + p.payloadCaptured;
  if (end - s < 240 || b.readUInt32BE(s + 236) !== 0x63825363) return undefined;
  if (b[s + 1] !== 1 || b[s + 2] !== 6) return undefined; // Ethernet hardware addresses only
  const chaddr = (b[s + 28]! * 256 + b[s + 29]!) * 4294967296 + b.readUInt32BE(s + 30);
  const info: DhcpInfo = { messageType: 0, clientMac: formatMac(chaddr) };
  let o = s + 240;
  while (o < end) {
    const code = b[o]!;
    if (code === 255) break;
    if (code === 0) {
      o++;
      continue;
    }
    if (o + 2 > end) break;
    const len = b[o + 1]!;
    const v = o + 2;
    if (v + len > end) break;
    switch (code) {
      case 53:
        if (len >= 1) info.messageType = b[v]!;
        break;
      case 12:
        info.hostname = printable(b, v, len);
        break;
      case 60:
        info.vendorClass = printable(b, v, len);
        break;
      case 55:
        info.parameterRequestList = Array.from(b.subarray(v, v + len));
        break;
      case 50:
        if (len === 4) info.requestedIp = `${b[v]}.${b[v + 1]}.${b[v + 2]}.${b[v + 3]}`;
        break;
    }
    o = v + len;
  }
  return info;
}

/** Query names of a DNS, mDNS or LLMNR message (RFC 1035 §4.1), lower-cased; answers' names for mDNS responses. */
export function parseDnsNames(p: DecodedPacket, max = 8): string[] | undefined {
  const b = p.buf;
  const s = p.payloadStart;
  const end = s + p.payloadCaptured;
  if (end - s < 12) return undefined;
  const qd = b.readUInt16BE(s + 4);
  const an = b.readUInt16BE(s + 6);
  const isResponse = (b[s + 2]! & 0x80) !== 0;
  const names: string[] = [];
  let o = s + 12;
  const records = Math.min(qd + (isResponse && p.app === App.Mdns ? an : 0), max);
  for (let i = 0; i < records && o < end; i++) {
    const name = readName(b, s, o, end);
    if (name === undefined) break;
    names.push(name.text);
    o = name.next + (i < qd ? 4 : 0);
    if (i >= qd) {
      // Answer: type(2) class(2) ttl(4) rdlength(2) rdata
      if (o + 10 > end) break;
      o += 10 + b.readUInt16BE(o + 8);
    }
  }
  return names;
}

function readName(b: Buffer, msg: number, o: number, end: number): { text: string; next: number } | undefined {
  const labels: string[] = [];
  let next = -1;
  let jumps = 0;
  let total = 0;
  while (o < end) {
    const len = b[o]!;
    if (len === 0) {
      if (next < 0) next = o + 1;
      return { text: labels.join(".").toLowerCase(), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= end || ++jumps > 16) return undefined;
      if (next < 0) next = o + 2;
      o = msg + (((len & 0x3f) << 8) | b[o + 1]!);
      continue;
    }
    if (len > 63 || o + 1 + len > end || (total += len + 1) > 255) return undefined;
    labels.push(printable(b, o + 1, len));
    o += 1 + len;
  }
  return undefined;
}

/** `SERVER`, `USER-AGENT`, `ST`/`NT` headers of an SSDP message, or an HTTP request's `User-Agent`. */
export function parseHttpLikeHeaders(
  p: DecodedPacket,
): { firstLine: string; server?: string; userAgent?: string; searchTarget?: string } | undefined {
  const b = p.buf;
  const s = p.payloadStart;
  const n = Math.min(p.payloadCaptured, 2048);
  if (n < 8) return undefined;
  const text = b.toString("latin1", s, s + n);
  const lines = text.split("\r\n");
  const firstLine = lines[0] ?? "";
  if (!/^(GET|POST|PUT|HEAD|NOTIFY|M-SEARCH|HTTP\/1\.[01]) /.test(firstLine)) return undefined;
  const out: { firstLine: string; server?: string; userAgent?: string; searchTarget?: string } = {
    firstLine: firstLine.slice(0, 120),
  };
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line
      .slice(colon + 1)
      .trim()
      .slice(0, 200);
    if (name === "server") out.server = value;
    else if (name === "user-agent") out.userAgent = value;
    else if (name === "st" || name === "nt") out.searchTarget = value;
  }
  return out;
}

export const MQTT_PACKET_TYPES = [
  "reserved",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
  "AUTH",
] as const;

/** MQTT control packet type (1..15) of the first packet in a TCP payload, 0 when there is none. Cheap enough for the hot path. */
export function mqttPacketType(p: DecodedPacket): number {
  if (p.payloadCaptured < 2 || p.app !== App.Mqtt) return 0;
  return p.buf[p.payloadStart]! >> 4;
}

/** Client id (and protocol level) of an MQTT CONNECT ([MQTT-3.1.3-3]: the first field of the payload). */
export function parseMqttConnect(p: DecodedPacket): { clientId: string; protocolLevel: number; username?: string } | undefined {
  if (mqttPacketType(p) !== 1) return undefined;
  const b = p.buf;
  const end = p.payloadStart + p.payloadCaptured;
  let o = p.payloadStart + 1;
  // Remaining length: up to 4 bytes, 7 bits each.
  for (let i = 0; i < 4 && o < end; i++) if ((b[o++]! & 0x80) === 0) break;
  if (o + 2 > end) return undefined;
  const nameLen = b.readUInt16BE(o);
  o += 2 + nameLen;
  if (o + 4 > end) return undefined;
  const level = b[o]!;
  const flags = b[o + 1]!;
  o += 4; // level, flags, keep-alive
  if (level === 5) {
    // MQTT 5 properties: a variable byte integer length, then the properties.
    let len = 0;
    let mul = 1;
    for (let i = 0; i < 4 && o < end; i++) {
      const byte = b[o++]!;
      len += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) break;
    }
    o += len;
  }
  if (o + 2 > end) return undefined;
  const idLen = b.readUInt16BE(o);
  if (o + 2 + idLen > end) return undefined;
  const clientId = printable(b, o + 2, idLen);
  const result: { clientId: string; protocolLevel: number; username?: string } = { clientId, protocolLevel: level };
  o += 2 + idLen;
  // Will topic and message come before the user name ([MQTT-3.1.3-1] order).
  if (flags & 0x04) {
    for (let k = 0; k < 2; k++) {
      if (o + 2 > end) return result;
      o += 2 + b.readUInt16BE(o);
    }
  }
  if (flags & 0x80 && o + 2 <= end) {
    const ul = b.readUInt16BE(o);
    if (o + 2 + ul <= end) result.username = printable(b, o + 2, ul);
  }
  return result;
}

/** Bytes as text with anything outside printable ASCII replaced, so that no capture can inject control codes into a terminal or report. */
function printable(b: Buffer, o: number, len: number): string {
  let out = "";
  const end = Math.min(o + len, b.length);
  for (let i = o; i < end; i++) {
    const c = b[i]!;
    out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return out;
}
