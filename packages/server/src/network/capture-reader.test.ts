import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { isVigilError, type VigilError } from "../core/index.js";
import { CaptureReader, captureErrorOffset, type PacketRecord } from "./capture-reader.js";
import { readCapture } from "./capture-source.js";
import {
  pcapFileHeader,
  pcapRecord,
  pcapngInterface,
  pcapngOtherBlock,
  pcapngPacket,
  pcapngSectionHeader,
  pcapngSimplePacket,
} from "./capture-writer.js";
import { ethernetFrame, sllFrame } from "./packet-builder.js";

interface Seen {
  index: number;
  ts: number;
  caplen: number;
  origLen: number;
  linkType: number;
  iface: number;
  bytes: string;
}

function copy(r: PacketRecord): Seen {
  return {
    index: r.index,
    ts: r.ts,
    caplen: r.caplen,
    origLen: r.origLen,
    linkType: r.linkType,
    iface: r.iface,
    bytes: r.buf.toString("hex", r.offset, r.offset + r.caplen),
  };
}

/** Feeds `input` in chunks of `chunk` bytes; returns the packets and the error, if any. */
function read(input: Buffer, chunk = input.length, maxPacketBytes?: number): { packets: Seen[]; error?: VigilError } {
  const packets: Seen[] = [];
  const reader = new CaptureReader((r) => packets.push(copy(r)), maxPacketBytes ? { maxPacketBytes } : {});
  try {
    for (let o = 0; o < input.length; o += chunk) reader.push(input.subarray(o, o + chunk));
    reader.end();
    return { packets };
  } catch (error) {
    if (!isVigilError(error)) throw error;
    return { packets, error };
  }
}

const frameA = ethernetFrame({ src: "10.0.0.1", dst: "10.0.0.2", proto: "tcp", sport: 40000, dport: 1883, flags: 0x02 });
const frameB = ethernetFrame({
  src: "10.0.0.2",
  dst: "10.0.0.1",
  proto: "udp",
  sport: 53,
  dport: 5000,
  payload: Buffer.alloc(30, 7),
});
const frameC = sllFrame({ src: "fe80::1", dst: "ff02::fb", proto: "udp", sport: 5353, dport: 5353 });

function classic(o: { nano?: boolean; bigEndian?: boolean } = {}): Buffer {
  return Buffer.concat([
    pcapFileHeader({ linkType: 1, ...o }),
    pcapRecord(1_700_000_000.123456, frameA, o),
    pcapRecord(1_700_000_001.5, frameB, o),
  ]);
}

test("pcap: both byte orders, micro- and nanosecond magic give the same packets", () => {
  const expected = read(classic()).packets;
  assert.equal(expected.length, 2);
  assert.equal(expected[0]!.bytes, frameA.toString("hex"));
  assert.equal(expected[1]!.bytes, frameB.toString("hex"));
  assert.ok(Math.abs(expected[0]!.ts - 1_700_000_000.123456) < 1e-6);
  for (const variant of [{ bigEndian: true }, { nano: true }, { nano: true, bigEndian: true }]) {
    const got = read(classic(variant));
    assert.equal(got.error, undefined, JSON.stringify(variant));
    assert.deepEqual(
      got.packets.map((p) => ({ ...p, ts: Math.round(p.ts * 1e6) })),
      expected.map((p) => ({ ...p, ts: Math.round(p.ts * 1e6) })),
      JSON.stringify(variant),
    );
  }
});

test("pcap: nanosecond timestamps keep sub-microsecond precision", () => {
  const input = Buffer.concat([pcapFileHeader({ linkType: 1, nano: true }), pcapRecord(10.00000025, frameA, { nano: true })]);
  const { packets } = read(input);
  assert.ok(Math.abs(packets[0]!.ts - 10.00000025) < 1e-9);
});

function pcapng(bigEndian = false): Buffer {
  return Buffer.concat([
    pcapngSectionHeader(bigEndian),
    pcapngInterface(1, { tsresol: 6, bigEndian }),
    pcapngOtherBlock(0x00000bad, Buffer.from("custom block, skipped"), bigEndian),
    pcapngInterface(113, { tsresol: 9, tsoffset: 100, bigEndian }),
    pcapngPacket(0, 1_700_000_000.25, frameA, { units: 1e6, bigEndian }),
    pcapngPacket(1, 5.5, frameC, { units: 1e9, bigEndian }),
    pcapngPacket(0, 1_700_000_002, frameB, { units: 1e6, bigEndian, origLen: frameB.length + 100 }),
  ]);
}

test("pcapng: interfaces with their own link type, resolution and offset; unknown blocks skipped; both byte orders", () => {
  for (const be of [false, true]) {
    const { packets, error } = read(pcapng(be));
    assert.equal(error, undefined);
    assert.equal(packets.length, 3);
    assert.deepEqual(
      packets.map((p) => [p.linkType, p.iface]),
      [
        [1, 0],
        [113, 1],
        [1, 0],
      ],
    );
    assert.ok(Math.abs(packets[0]!.ts - 1_700_000_000.25) < 1e-6);
    assert.ok(Math.abs(packets[1]!.ts - 105.5) < 1e-9, `tsoffset applied: ${packets[1]!.ts}`);
    assert.equal(packets[1]!.bytes, frameC.toString("hex"));
    assert.equal(packets[2]!.origLen, frameB.length + 100);
  }
});

test("pcapng: simple packet blocks, and a second section resets the interfaces", () => {
  const input = Buffer.concat([
    pcapngSectionHeader(),
    pcapngInterface(1, { snaplen: 40 }),
    pcapngSimplePacket(frameA.subarray(0, 40), frameA.length),
    pcapngSectionHeader(true),
    pcapngInterface(113, { bigEndian: true }),
    pcapngPacket(0, 3, frameC, { bigEndian: true }),
  ]);
  const { packets, error } = read(input);
  assert.equal(error, undefined);
  assert.equal(packets.length, 2);
  assert.equal(packets[0]!.caplen, 40);
  assert.equal(packets[0]!.origLen, frameA.length);
  assert.equal(packets[1]!.linkType, 113);
});

test("chunking does not matter: byte by byte gives the same packets as all at once", () => {
  for (const input of [classic(), pcapng(), pcapng(true)]) {
    const whole = read(input);
    for (const chunk of [1, 3, 7, 64]) assert.deepEqual(read(input, chunk), whole);
  }
});

function assertFault(result: { packets: Seen[]; error?: VigilError }, code: string, offset: number, goodPackets: number): void {
  assert.ok(result.error, `expected ${code}`);
  assert.equal(result.error.code, code, result.error.message);
  assert.equal(captureErrorOffset(result.error), offset);
  assert.match(result.error.message, new RegExp(`^at byte ${offset}: `));
  assert.ok(result.error.hint, "has a hint");
  assert.equal(result.packets.length, goodPackets, "the packets before the fault were delivered");
}

test("bad input: truncated file keeps the packets before the cut", () => {
  const input = classic();
  const cut = input.subarray(0, input.length - 5);
  const second = 24 + 16 + frameA.length;
  for (const chunk of [cut.length, 1, 13]) assertFault(read(cut, chunk), "CAPTURE_TRUNCATED", second, 1);
  assertFault(read(input.subarray(0, 10)), "CAPTURE_TRUNCATED", 0, 0);
  assertFault(read(Buffer.alloc(0)), "CAPTURE_TRUNCATED", 0, 0);
  const ng = pcapng();
  assert.equal(read(ng.subarray(0, ng.length - 1)).error?.code, "CAPTURE_TRUNCATED");
  assert.equal(read(ng.subarray(0, ng.length - 1)).packets.length, 2);
});

test("bad input: wrong magic and garbage are refused at offset 0, even byte by byte", () => {
  assertFault(read(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), "CAPTURE_BAD_MAGIC", 0, 0);
  assertFault(read(Buffer.from([0xd4, 0xc3, 0x00, 0x00, 1, 2, 3]), 1), "CAPTURE_BAD_MAGIC", 0, 0);
  const badBom = pcapng();
  badBom.writeUInt32LE(0x12345678, 8);
  assertFault(read(badBom), "CAPTURE_BAD_MAGIC", 8, 0);
});

test("bad input: an unknown link type is named", () => {
  const r = read(Buffer.concat([pcapFileHeader({ linkType: 147 }), pcapRecord(1, frameA)]));
  assertFault(r, "CAPTURE_LINK_TYPE_UNSUPPORTED", 20, 0);
  assert.match(r.error!.message, /147/);
  const ng = read(Buffer.concat([pcapngSectionHeader(), pcapngInterface(127), pcapngPacket(0, 1, frameA)]));
  assertFault(ng, "CAPTURE_LINK_TYPE_UNSUPPORTED", 28 + 8, 0);
  assert.match(ng.error!.message, /RADIOTAP/);
});

test("bad input: a snaplen that lies (caplen > snaplen, > origLen, or > the bytes of its block)", () => {
  const head = pcapFileHeader({ linkType: 1, snaplen: 64 });
  const ok = pcapRecord(1, frameA.subarray(0, 60), { origLen: frameA.length });
  const liar = pcapRecord(2, Buffer.alloc(100), {});
  assertFault(read(Buffer.concat([head, ok, liar])), "CAPTURE_RECORD_INVALID", 24 + ok.length, 1);
  const shorter = pcapRecord(2, frameA, { origLen: 10 });
  assertFault(read(Buffer.concat([pcapFileHeader({ linkType: 1 }), ok, shorter])), "CAPTURE_RECORD_INVALID", 24 + ok.length, 1);
  // pcapng: the EPB claims more captured bytes than it carries.
  const shb = pcapngSectionHeader();
  const idb = pcapngInterface(1);
  const epb = pcapngPacket(0, 1, frameA, { caplen: frameA.length + 400, origLen: frameA.length + 400 });
  assertFault(
    read(Buffer.concat([shb, idb, pcapngPacket(0, 1, frameA), epb])),
    "CAPTURE_RECORD_INVALID",
    shb.length + idb.length + 32 + ((frameA.length + 3) & ~3) + 20,
    1,
  );
  // ... or refers to an interface nobody described.
  assertFault(read(Buffer.concat([shb, pcapngPacket(3, 1, frameA)])), "CAPTURE_RECORD_INVALID", shb.length + 8, 0);
  // ... or its trailing length differs.
  const bad = Buffer.from(pcapngPacket(0, 1, frameA));
  bad.writeUInt32LE(bad.length + 4, bad.length - 4);
  assertFault(read(Buffer.concat([shb, idb, bad])), "CAPTURE_RECORD_INVALID", shb.length + idb.length + bad.length - 4, 0);
});

test("bad input: giant and zero-length packets", () => {
  const head = pcapFileHeader({ linkType: 1, snaplen: 0 });
  const giant = Buffer.alloc(16);
  giant.writeUInt32LE(300 * 1024, 8);
  giant.writeUInt32LE(300 * 1024, 12);
  const ok = pcapRecord(1, frameA);
  const r = read(Buffer.concat([head, ok, giant]));
  assertFault(r, "CAPTURE_PACKET_TOO_LARGE", 24 + ok.length, 1);
  const zero = pcapRecord(2, Buffer.alloc(0), { origLen: 60 });
  assertFault(read(Buffer.concat([head, ok, zero])), "CAPTURE_RECORD_INVALID", 24 + ok.length, 1);
  // A smaller limit applies to pcapng blocks too, without buffering the block first.
  const ng = Buffer.concat([pcapngSectionHeader(), pcapngInterface(1), pcapngPacket(0, 1, Buffer.alloc(5000))]);
  assert.equal(read(ng.subarray(0, 28 + 20 + 16), ng.length, 1000).error?.code, "CAPTURE_TRUNCATED");
  assert.equal(read(ng, 64, 1000).error?.code, "CAPTURE_PACKET_TOO_LARGE");
});

test("readCapture: garbage on a stream is a clear error; a good stream is read chunk by chunk", async () => {
  await assert.rejects(
    readCapture(Readable.from([Buffer.from("\u0000\u0001garbage on stdin")]), () => undefined),
    (e: unknown) => isVigilError(e, "CAPTURE_BAD_MAGIC") && /at byte 0/.test(e.message),
  );
  const input = pcapng();
  const chunks = [input.subarray(0, 50), input.subarray(50, 51), input.subarray(51)];
  let n = 0;
  const summary = await readCapture(Readable.from(chunks), () => n++);
  assert.equal(n, 3);
  assert.equal(summary.packets, 3);
  assert.equal(summary.format, "pcapng");
  assert.equal(summary.bytes, input.length);
});
