import { VigilError } from "../core/index.js";
import { isSupportedLinkType, linkTypeName } from "./link-types.js";

/**
 * A streaming reader of pcap and pcapng captures: feed it chunks as they arrive (a file, or
 * `tcpdump -w -` on stdin) and it calls `onPacket` once per packet record, in order.
 *
 * - Memory is bounded: at most one incomplete record (itself bounded by `maxPacketBytes`) is
 *   kept between chunks; nothing else is buffered.
 * - Nothing is allocated per packet: `onPacket` receives the same `PacketRecord` object every
 *   time, pointing into the current chunk. Copy what you need before returning.
 * - Bad input stops the reader with a `VigilError` (`CAPTURE_*`) whose message names the byte
 *   offset; every good packet before it has already been delivered.
 *
 * Formats: pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html), both byte
 * orders, microsecond and nanosecond magic; pcapng (draft-ietf-opsawg-pcapng): SHB, IDB,
 * EPB, SPB and the obsolete PB, several sections and interfaces each with its own link type,
 * `if_tsresol` and `if_tsoffset`; other blocks are skipped.
 */

export interface PacketRecord {
  /** 0-based number of the packet in the capture. */
  index: number;
  /** Byte offset of the packet's record (pcap) or block (pcapng) in the input. */
  fileOffset: number;
  /** The packet's captured bytes are `buf[offset .. offset + caplen)`. Valid only during the callback. */
  buf: Buffer;
  offset: number;
  caplen: number;
  /** Length of the packet on the wire (>= caplen). */
  origLen: number;
  /** Seconds since the Unix epoch (microsecond precision or better). */
  ts: number;
  /** LINKTYPE_* of the packet's interface. */
  linkType: number;
  /** Interface number (pcapng), 0 for pcap. */
  iface: number;
}

export interface CaptureReaderOptions {
  /** Largest packet (and pcapng block) accepted; default 256 KiB. */
  readonly maxPacketBytes?: number;
}

export type CaptureFormat = "pcap" | "pcapng";

export const DEFAULT_MAX_PACKET_BYTES = 256 * 1024;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const PCAP_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
/** Options and padding a pcapng block may carry on top of its packet. */
const BLOCK_SLACK = 64 * 1024;

const enum State {
  Magic,
  PcapHeader,
  PcapRecord,
  PcapngBlock,
}

interface Interface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second. */
  units: number;
  /** Seconds added to every timestamp (`if_tsoffset`). */
  tsOffset: number;
}

export class CaptureReader {
  readonly #onPacket: (packet: PacketRecord) => void;
  readonly #maxPacket: number;
  readonly #record: PacketRecord = {
    index: 0,
    fileOffset: 0,
    buf: Buffer.alloc(0),
    offset: 0,
    caplen: 0,
    origLen: 0,
    ts: 0,
    linkType: 0,
    iface: 0,
  };
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  /** Input offset of `#buf[0]`. */
  #base = 0;
  #state: State = State.Magic;
  #le = true;
  #format: CaptureFormat | undefined;
  // pcap
  #nano = false;
  #snaplen = 0;
  #linkType = 0;
  // pcapng
  #interfaces: Interface[] = [];
  #packets = 0;
  #lastTs = 0;
  #failed: VigilError | undefined;
  #ended = false;

  constructor(onPacket: (packet: PacketRecord) => void, options: CaptureReaderOptions = {}) {
    this.#onPacket = onPacket;
    this.#maxPacket = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  }

  get format(): CaptureFormat | undefined {
    return this.#format;
  }

  /** Packets delivered so far. */
  get packets(): number {
    return this.#packets;
  }

  /** Bytes of input fully consumed so far. */
  get consumed(): number {
    return this.#base + this.#pos;
  }

  /** Link types of the interfaces seen so far (one for pcap). */
  get linkTypes(): number[] {
    return this.#format === "pcap" ? [this.#linkType] : this.#interfaces.map((i) => i.linkType);
  }

  /** Feeds the next chunk of input; delivers every complete packet in it. Throws `CAPTURE_*` on bad input. */
  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failed;
    if (this.#ended) throw new Error("CaptureReader.push() after end()");
    if (chunk.length === 0) return;
    if (this.#pos < this.#buf.length) {
      // An incomplete record is left over: join it with the new chunk (bounded by the record limit).
      this.#base += this.#pos;
      this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), chunk]);
    } else {
      this.#base += this.#buf.length;
      this.#buf = chunk;
    }
    this.#pos = 0;
    try {
      this.#parse();
    } catch (error) {
      if (error instanceof VigilError) this.#failed = error;
      throw error;
    }
  }

  /** Declares the end of input. Throws `CAPTURE_TRUNCATED` when it stops inside a header or record. */
  end(): void {
    if (this.#failed) throw this.#failed;
    this.#ended = true;
    const left = this.#buf.length - this.#pos;
    if (this.#state === State.Magic && left === 0 && this.#base === 0) {
      this.#failed = this.#error("CAPTURE_TRUNCATED", 0, "the input is empty", "Give a pcap or pcapng capture.");
      throw this.#failed;
    }
    if (left > 0) {
      const what =
        this.#state === State.Magic
          ? "the file header"
          : this.#state === State.PcapHeader
            ? "the pcap file header"
            : this.#state === State.PcapRecord
              ? "a packet record"
              : "a pcapng block";
      this.#failed = this.#error(
        "CAPTURE_TRUNCATED",
        this.consumed,
        `the capture ends inside ${what} (${left} byte${left === 1 ? "" : "s"} left over)`,
        `The ${this.#packets} packets before it were read. A capture cut while being written ends like this.`,
      );
      throw this.#failed;
    }
  }

  #parse(): void {
    for (;;) {
      const left = this.#buf.length - this.#pos;
      switch (this.#state) {
        case State.Magic:
          if (!this.#magic(left)) return;
          break;
        case State.PcapHeader:
          if (left < PCAP_HEADER) return;
          this.#pcapHeader();
          break;
        case State.PcapRecord:
          if (left < PCAP_RECORD_HEADER) return;
          if (!this.#pcapRecord(left)) return;
          break;
        case State.PcapngBlock:
          if (left < 12) return;
          if (!this.#pcapngBlock(left)) return;
          break;
      }
    }
  }

  #u32(at: number): number {
    return this.#le ? this.#buf.readUInt32LE(at) : this.#buf.readUInt32BE(at);
  }

  #u16(at: number): number {
    return this.#le ? this.#buf.readUInt16LE(at) : this.#buf.readUInt16BE(at);
  }

  #magic(left: number): boolean {
    const b = this.#buf;
    const p = this.#pos;
    // Reject garbage as soon as its first bytes cannot start any known magic.
    const n = Math.min(left, 4);
    const prefixOk = KNOWN_MAGICS.some((m) => {
      for (let i = 0; i < n; i++) if (m[i] !== b[p + i]) return false;
      return true;
    });
    if (!prefixOk) {
      throw this.#error(
        "CAPTURE_BAD_MAGIC",
        this.consumed,
        `not a pcap or pcapng capture: it starts with ${b.subarray(p, p + n).toString("hex")}`,
        "Give a capture written by tcpdump, dumpcap or Wireshark (`tcpdump -w -` for a live stream).",
      );
    }
    if (left < 4) return false;
    const be = b.readUInt32BE(p);
    const le = b.readUInt32LE(p);
    if (be === PCAPNG_SHB) {
      this.#format = "pcapng";
      this.#state = State.PcapngBlock;
    } else {
      this.#format = "pcap";
      this.#le = le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS;
      this.#nano = (this.#le ? le : be) === PCAP_MAGIC_NS;
      this.#state = State.PcapHeader;
    }
    return true;
  }

  #pcapHeader(): void {
    const p = this.#pos;
    const major = this.#u16(p + 4);
    this.#snaplen = this.#u32(p + 16);
    // The upper bits of the link-type field may carry the FCS length (pcap draft §4).
    this.#linkType = this.#u32(p + 20) & 0x0fffffff;
    if (major !== 2) {
      throw this.#error(
        "CAPTURE_BAD_MAGIC",
        this.consumed + 4,
        `unsupported pcap version ${major}`,
        "Only pcap version 2.x exists.",
      );
    }
    this.#checkLinkType(this.#linkType, this.consumed + 20);
    this.#pos += PCAP_HEADER;
    this.#state = State.PcapRecord;
  }

  #pcapRecord(left: number): boolean {
    const p = this.#pos;
    const caplen = this.#u32(p + 8);
    const origLen = this.#u32(p + 12);
    const at = this.consumed;
    this.#checkCaplen(caplen, origLen, this.#snaplen, at);
    if (left < PCAP_RECORD_HEADER + caplen) return false;
    const r = this.#record;
    r.fileOffset = at;
    r.buf = this.#buf;
    r.offset = p + PCAP_RECORD_HEADER;
    r.caplen = caplen;
    r.origLen = origLen;
    r.ts = this.#u32(p) + this.#u32(p + 4) / (this.#nano ? 1e9 : 1e6);
    r.linkType = this.#linkType;
    r.iface = 0;
    this.#pos = p + PCAP_RECORD_HEADER + caplen;
    this.#deliver();
    return true;
  }

  #checkCaplen(caplen: number, origLen: number, snaplen: number, at: number): void {
    if (caplen > this.#maxPacket) {
      throw this.#error(
        "CAPTURE_PACKET_TOO_LARGE",
        at,
        `packet ${this.#packets} claims ${caplen} captured bytes, more than the limit of ${this.#maxPacket}`,
        "The record header is probably corrupt.",
      );
    }
    if (caplen === 0) {
      throw this.#error(
        "CAPTURE_RECORD_INVALID",
        at,
        `packet ${this.#packets} has zero captured bytes`,
        "The record is corrupt.",
      );
    }
    if (snaplen > 0 && caplen > snaplen) {
      throw this.#error(
        "CAPTURE_RECORD_INVALID",
        at,
        `packet ${this.#packets} has ${caplen} captured bytes, more than the capture's snaplen of ${snaplen}`,
        "The record header (or the snaplen) is corrupt.",
      );
    }
    if (caplen > origLen) {
      throw this.#error(
        "CAPTURE_RECORD_INVALID",
        at,
        `packet ${this.#packets} has ${caplen} captured bytes but was only ${origLen} bytes on the wire`,
        "The record header is corrupt.",
      );
    }
  }

  #pcapngBlock(left: number): boolean {
    const p = this.#pos;
    const b = this.#buf;
    const at = this.consumed;
    if (b.readUInt32BE(p) === PCAPNG_SHB) {
      // A Section Header Block sets the byte order of everything up to the next one.
      const bom = b.readUInt32LE(p + 8);
      if (bom === PCAPNG_BOM) this.#le = true;
      else if (b.readUInt32BE(p + 8) === PCAPNG_BOM) this.#le = false;
      else {
        throw this.#error(
          "CAPTURE_BAD_MAGIC",
          at + 8,
          "pcapng section header with a bad byte-order magic",
          "The file is corrupt.",
        );
      }
    }
    const type = this.#u32(p);
    const length = this.#u32(p + 4);
    if (length < 12 || length % 4 !== 0) {
      throw this.#error(
        "CAPTURE_RECORD_INVALID",
        at + 4,
        `pcapng block of type 0x${type.toString(16)} declares an impossible length of ${length} bytes`,
        "The file is corrupt.",
      );
    }
    if (length > this.#maxPacket + BLOCK_SLACK) {
      throw this.#error(
        "CAPTURE_PACKET_TOO_LARGE",
        at + 4,
        `pcapng block of type 0x${type.toString(16)} is ${length} bytes long, more than the limit of ${this.#maxPacket + BLOCK_SLACK}`,
        "The block header is probably corrupt.",
      );
    }
    if (left < length) return false;
    if (this.#u32(p + length - 4) !== length) {
      throw this.#error(
        "CAPTURE_RECORD_INVALID",
        at + length - 4,
        `pcapng block of type 0x${type.toString(16)} at ${at}: trailing length ${this.#u32(p + length - 4)} differs from leading length ${length}`,
        "The file is corrupt.",
      );
    }
    this.#pos = p + length;
    switch (type) {
      case PCAPNG_SHB:
        if (length < 28)
          throw this.#error("CAPTURE_RECORD_INVALID", at, "pcapng section header block too short", "The file is corrupt.");
        if (this.#u16(p + 12) !== 1) {
          throw this.#error(
            "CAPTURE_BAD_MAGIC",
            at + 12,
            `unsupported pcapng major version ${this.#u16(p + 12)}`,
            "Only pcapng 1.x exists.",
          );
        }
        this.#interfaces = [];
        break;
      case 1:
        this.#interfaceBlock(p, length, at);
        break;
      case 6:
        this.#enhancedPacket(p, length, at);
        break;
      case 3:
        this.#simplePacket(p, length, at);
        break;
      case 2:
        this.#obsoletePacket(p, length, at);
        break;
      default:
        // Name resolution, statistics, decryption secrets, custom blocks: not needed here.
        break;
    }
    return true;
  }

  #interfaceBlock(p: number, length: number, at: number): void {
    if (length < 20) throw this.#error("CAPTURE_RECORD_INVALID", at, "pcapng interface block too short", "The file is corrupt.");
    const linkType = this.#u16(p + 8);
    this.#checkLinkType(linkType, at + 8);
    const iface: Interface = { linkType, snaplen: this.#u32(p + 12), units: 1e6, tsOffset: 0 };
    // Options: code(2) length(2) value padded to 4 (pcapng §3.5).
    let o = p + 16;
    const end = p + length - 4;
    while (o + 4 <= end) {
      const code = this.#u16(o);
      const len = this.#u16(o + 2);
      if (code === 0 || o + 4 + len > end) break;
      if (code === 9 && len >= 1) {
        const v = this.#buf[o + 4]!;
        iface.units = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
      } else if (code === 14 && len >= 8) {
        iface.tsOffset = Number(this.#le ? this.#buf.readBigInt64LE(o + 4) : this.#buf.readBigInt64BE(o + 4));
      }
      o += 4 + ((len + 3) & ~3);
    }
    this.#interfaces.push(iface);
  }

  #iface(id: number, at: number): Interface {
    const iface = this.#interfaces[id];
    if (iface === undefined) {
      throw this.#error(
        "CAPTURE_RECORD_INVALID",
        at,
        `packet ${this.#packets} refers to interface ${id}, but only ${this.#interfaces.length} interface(s) were described before it`,
        "The file is corrupt or its interface blocks are missing.",
      );
    }
    return iface;
  }

  #enhancedPacket(p: number, length: number, at: number): void {
    if (length < 32)
      throw this.#error("CAPTURE_RECORD_INVALID", at, "pcapng enhanced packet block too short", "The file is corrupt.");
    this.#timestampedPacket(p, length, at, this.#u32(p + 8));
  }

  /** The obsolete Packet Block: an Enhanced Packet Block with a 16-bit interface id and a drops count. */
  #obsoletePacket(p: number, length: number, at: number): void {
    if (length < 32) throw this.#error("CAPTURE_RECORD_INVALID", at, "pcapng packet block too short", "The file is corrupt.");
    this.#timestampedPacket(p, length, at, this.#u16(p + 8));
  }

  /** The common tail of EPB and PB: timestamps at +12/+16, lengths at +20/+24, data at +28. */
  #timestampedPacket(p: number, length: number, at: number, id: number): void {
    const iface = this.#iface(id, at + 8);
    const caplen = this.#u32(p + 20);
    const origLen = this.#u32(p + 24);
    this.#checkCaplen(caplen, origLen, iface.snaplen, at + 20);
    if (caplen > length - 32) {
      throw this.#error(
        "CAPTURE_RECORD_INVALID",
        at + 20,
        `packet ${this.#packets} claims ${caplen} captured bytes but its block holds only ${length - 32}`,
        "The block header is corrupt.",
      );
    }
    this.#packet(p + 28, caplen, origLen, this.#u32(p + 12), this.#u32(p + 16), iface, id, at);
  }

  #simplePacket(p: number, length: number, at: number): void {
    if (length < 16)
      throw this.#error("CAPTURE_RECORD_INVALID", at, "pcapng simple packet block too short", "The file is corrupt.");
    const iface = this.#iface(0, at);
    const origLen = this.#u32(p + 8);
    // The captured length is implied (pcapng §4.4): min(original length, snaplen, room in the block).
    let caplen = Math.min(origLen, length - 16);
    if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
    this.#checkCaplen(caplen, origLen, 0, at + 8);
    const r = this.#record;
    r.fileOffset = at;
    r.buf = this.#buf;
    r.offset = p + 12;
    r.caplen = caplen;
    r.origLen = origLen;
    r.ts = this.#lastTs; // a simple packet block has no timestamp: keep time monotonic
    r.linkType = iface.linkType;
    r.iface = 0;
    this.#deliver();
  }

  #packet(
    data: number,
    caplen: number,
    origLen: number,
    tsHigh: number,
    tsLow: number,
    iface: Interface,
    id: number,
    at: number,
  ): void {
    const r = this.#record;
    r.fileOffset = at;
    r.buf = this.#buf;
    r.offset = data;
    r.caplen = caplen;
    r.origLen = origLen;
    r.ts = (tsHigh * 4294967296 + tsLow) / iface.units + iface.tsOffset;
    r.linkType = iface.linkType;
    r.iface = id;
    this.#deliver();
  }

  #deliver(): void {
    this.#lastTs = this.#record.ts;
    this.#record.index = this.#packets++;
    this.#onPacket(this.#record);
  }

  #checkLinkType(linkType: number, at: number): void {
    if (!isSupportedLinkType(linkType)) {
      throw this.#error(
        "CAPTURE_LINK_TYPE_UNSUPPORTED",
        at,
        `link-layer type ${linkType} (${linkTypeName(linkType)}) is not supported`,
        "Vigil decodes Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback captures; capture on such an interface (e.g. `tcpdump -i eth0`).",
      );
    }
  }

  #error(
    code:
      | "CAPTURE_BAD_MAGIC"
      | "CAPTURE_TRUNCATED"
      | "CAPTURE_LINK_TYPE_UNSUPPORTED"
      | "CAPTURE_RECORD_INVALID"
      | "CAPTURE_PACKET_TOO_LARGE",
    offset: number,
    message: string,
    hint: string,
  ): VigilError {
    return new VigilError(code, `at byte ${offset}: ${message}`, {
      hint,
      details: { offset, packetsRead: this.#packets },
    });
  }
}

const KNOWN_MAGICS: readonly (readonly number[])[] = [
  [0xd4, 0xc3, 0xb2, 0xa1],
  [0xa1, 0xb2, 0xc3, 0xd4],
  [0x4d, 0x3c, 0xb2, 0xa1],
  [0xa1, 0xb2, 0x3c, 0x4d],
  [0x0a, 0x0d, 0x0d, 0x0a],
];

/** Offset of a `CAPTURE_*` error, when it carries one. */
export function captureErrorOffset(error: VigilError): number | undefined {
  const offset = error.details?.offset;
  return typeof offset === "number" ? offset : undefined;
}
