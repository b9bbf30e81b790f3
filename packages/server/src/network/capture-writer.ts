/**
 * Writers of pcap and pcapng pieces: for tests, for the benchmark's spliced captures, and for
 * anyone who wants to save packets. Each function returns one Buffer to concatenate.
 */

export interface PcapHeaderOptions {
  readonly linkType: number;
  readonly snaplen?: number;
  readonly nano?: boolean;
  readonly bigEndian?: boolean;
}

export function pcapFileHeader(o: PcapHeaderOptions): Buffer {
  const b = Buffer.alloc(24);
  const w32 = (v: number, at: number) => (o.bigEndian ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const w16 = (v: number, at: number) => (o.bigEndian ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  w32(o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(2, 4);
  w16(4, 6);
  w32(o.snaplen ?? 262144, 16);
  w32(o.linkType, 20);
  return b;
}

export function pcapRecord(
  ts: number,
  data: Uint8Array,
  o: { nano?: boolean; bigEndian?: boolean; origLen?: number; caplen?: number } = {},
): Buffer {
  const b = Buffer.alloc(16 + data.length);
  const w32 = (v: number, at: number) => (o.bigEndian ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const sec = Math.floor(ts);
  const frac = Math.round((ts - sec) * (o.nano ? 1e9 : 1e6));
  w32(sec, 0);
  w32(frac, 4);
  w32(o.caplen ?? data.length, 8);
  w32(o.origLen ?? data.length, 12);
  b.set(data, 16);
  return b;
}

function block(type: number, body: Buffer, bigEndian: boolean): Buffer {
  const padded = (body.length + 3) & ~3;
  const total = 12 + padded;
  const b = Buffer.alloc(total);
  const w32 = (v: number, at: number) => (bigEndian ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  w32(type, 0);
  w32(total, 4);
  body.copy(b, 8);
  w32(total, total - 4);
  return b;
}

export function pcapngSectionHeader(bigEndian = false): Buffer {
  const body = Buffer.alloc(16);
  if (bigEndian) {
    body.writeUInt32BE(0x1a2b3c4d, 0);
    body.writeUInt16BE(1, 4);
    body.writeUInt16BE(0, 6);
  } else {
    body.writeUInt32LE(0x1a2b3c4d, 0);
    body.writeUInt16LE(1, 4);
    body.writeUInt16LE(0, 6);
  }
  body.writeBigInt64LE(-1n, 8); // section length unknown
  return block(0x0a0d0d0a, body, bigEndian);
}

/** Interface Description Block; `tsresol` is the raw if_tsresol byte (6 = microseconds, 9 = nanoseconds). */
export function pcapngInterface(
  linkType: number,
  o: { snaplen?: number; tsresol?: number; tsoffset?: number; bigEndian?: boolean } = {},
): Buffer {
  const be = o.bigEndian ?? false;
  const opts: Buffer[] = [];
  const opt = (code: number, value: Buffer) => {
    const h = Buffer.alloc(4 + ((value.length + 3) & ~3));
    if (be) {
      h.writeUInt16BE(code, 0);
      h.writeUInt16BE(value.length, 2);
    } else {
      h.writeUInt16LE(code, 0);
      h.writeUInt16LE(value.length, 2);
    }
    value.copy(h, 4);
    opts.push(h);
  };
  if (o.tsresol !== undefined) opt(9, Buffer.from([o.tsresol]));
  if (o.tsoffset !== undefined) {
    const v = Buffer.alloc(8);
    if (be) v.writeBigInt64BE(BigInt(o.tsoffset));
    else v.writeBigInt64LE(BigInt(o.tsoffset));
    opt(14, v);
  }
  if (opts.length > 0) opt(0, Buffer.alloc(0));
  const head = Buffer.alloc(8);
  if (be) {
    head.writeUInt16BE(linkType, 0);
    head.writeUInt32BE(o.snaplen ?? 262144, 4);
  } else {
    head.writeUInt16LE(linkType, 0);
    head.writeUInt32LE(o.snaplen ?? 262144, 4);
  }
  return block(1, Buffer.concat([head, ...opts]), be);
}

/** Enhanced Packet Block; `units` = timestamp units per second of the interface (1e6 by default). */
export function pcapngPacket(
  iface: number,
  ts: number,
  data: Uint8Array,
  o: { units?: number; origLen?: number; caplen?: number; bigEndian?: boolean } = {},
): Buffer {
  const be = o.bigEndian ?? false;
  const head = Buffer.alloc(20);
  const w32 = (v: number, at: number) => (be ? head.writeUInt32BE(v >>> 0, at) : head.writeUInt32LE(v >>> 0, at));
  const t = BigInt(Math.round(ts * (o.units ?? 1e6)));
  w32(iface, 0);
  w32(Number(t >> 32n), 4);
  w32(Number(t & 0xffffffffn), 8);
  w32(o.caplen ?? data.length, 12);
  w32(o.origLen ?? data.length, 16);
  return block(6, Buffer.concat([head, Buffer.from(data)]), be);
}

export function pcapngSimplePacket(data: Uint8Array, origLen = data.length, bigEndian = false): Buffer {
  const head = Buffer.alloc(4);
  if (bigEndian) head.writeUInt32BE(origLen);
  else head.writeUInt32LE(origLen);
  return block(3, Buffer.concat([head, Buffer.from(data)]), bigEndian);
}

/** Any other block (e.g. a custom or statistics block), to check that readers skip it. */
export function pcapngOtherBlock(type: number, body: Buffer, bigEndian = false): Buffer {
  return block(type, body, bigEndian);
}
