/**
 * A minimal DER writer and a bounds-checked TLV reader, for the two structures Vigil builds on
 * its hot path (device certificates, PKCS#7 certs-only) and for slicing fields out of DER that
 * a full parser has already accepted. Everything else goes through @peculiar/x509.
 * ITU-T X.690 §8.1 (TLV), §10.1 (definite lengths in their shortest form).
 */

export function tlv(tag: number, ...parts: readonly Buffer[]): Buffer {
  const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  throw new RangeError("DER value too long");
}

export const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);

/** A positive INTEGER from big-endian bytes (a leading 0x00 is added when the top bit is set). */
export function integer(bytes: Buffer): Buffer {
  return tlv(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, "ascii"))
    : tlv(0x18, Buffer.from(`${digits}Z`, "ascii"));
}

export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.from([unusedBits]), bytes);
}

export const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the value. */
  readonly end: number;
}

/** Reads one TLV at `offset`, checking every length against `limit`; throws RangeError on bad DER. */
export function readTlv(buf: Buffer, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new RangeError(`DER truncated at ${offset}`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new RangeError(`multi-byte DER tags are not supported (at ${offset})`);
  let length = buf[offset + 1] as number;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) throw new RangeError(`unsupported DER length form at ${offset}`);
    if (contentStart + n > limit) throw new RangeError(`DER truncated at ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[contentStart + i] as number);
    contentStart += n;
  }
  const end = contentStart + length;
  if (end > limit) throw new RangeError(`DER value at ${offset} runs past its container`);
  return { tag, start: offset, contentStart, end };
}

/** The children of a constructed TLV. */
export function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let offset = parent.contentStart;
  while (offset < parent.end) {
    const child = readTlv(buf, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}
