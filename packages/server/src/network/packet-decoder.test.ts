import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIpv4, formatIpv6, formatMac, parseIpv4, parseMac } from "./addresses.js";
import { mqttPacketType, parseDhcp, parseDnsNames, parseMqttConnect } from "./app-protocols.js";
import type { PacketRecord } from "./capture-reader.js";
import { App, decodePacket, newDecodedPacket, type DecodedPacket } from "./packet-decoder.js";
import { ethernetFrame, ipPacket, sllFrame } from "./packet-builder.js";

function decode(bytes: Buffer, linkType = 1, origLen = bytes.length): DecodedPacket {
  const record: PacketRecord = {
    index: 0,
    fileOffset: 0,
    buf: bytes,
    offset: 0,
    caplen: bytes.length,
    origLen,
    ts: 1,
    linkType,
    iface: 0,
  };
  return decodePacket(record, newDecodedPacket());
}

test("Ethernet + 802.1Q + IPv4 + TCP", () => {
  const frame = ethernetFrame({
    srcMac: "aa:bb:cc:00:11:22",
    dstMac: "f0:00:00:00:00:01",
    vlan: 42,
    src: "192.168.1.90",
    dst: "192.168.1.91",
    proto: "tcp",
    sport: 55363,
    dport: 1883,
    flags: 0x18,
    payload: Buffer.from([0x30, 0x02, 0x00, 0x00]),
  });
  const p = decode(frame);
  assert.equal(formatMac(p.srcMac), "aa:bb:cc:00:11:22");
  assert.equal(formatMac(p.dstMac), "f0:00:00:00:00:01");
  assert.equal(p.vlan, 42);
  assert.equal(p.ipVersion, 4);
  assert.equal(formatIpv4(p.src4), "192.168.1.90");
  assert.equal(formatIpv4(p.dst4), "192.168.1.91");
  assert.deepEqual([p.proto, p.srcPort, p.dstPort, p.tcpFlags], [6, 55363, 1883, 0x18]);
  assert.equal(p.app, App.Mqtt);
  assert.equal(p.payloadLen, 4);
  assert.equal(mqttPacketType(p), 3);
  assert.equal(p.truncated, false);
  assert.equal(parseMac("AA-BB-CC-00-11-22"), p.srcMac);
  assert.equal(parseIpv4("192.168.1.90"), p.src4);
});

test("IPv6 with extension headers, over Linux cooked capture", () => {
  const inner = ipPacket({ src: "fe80::1", dst: "ff02::fb", proto: "udp", sport: 5353, dport: 5353, payload: Buffer.alloc(12) });
  // Insert a hop-by-hop header (8 bytes) and a destination-options header (16 bytes) before UDP.
  const hbh = Buffer.from([60, 0, 5, 2, 0, 0, 1, 0]);
  const dest = Buffer.alloc(16);
  dest[0] = 17;
  dest[1] = 1;
  const v6 = Buffer.concat([inner.subarray(0, 40), hbh, dest, inner.subarray(40)]);
  v6[6] = 0;
  v6.writeUInt16BE(v6.length - 40, 4);
  const sll = Buffer.concat([
    sllFrame({ src: "fe80::1", dst: "ff02::fb", proto: "udp", sport: 1, dport: 1 }).subarray(0, 16),
    v6,
  ]);
  const p = decode(sll, 113);
  assert.equal(p.ipVersion, 6);
  assert.equal(formatIpv6(p.buf, p.src6), "fe80::1");
  assert.equal(formatIpv6(p.buf, p.dst6), "ff02::fb");
  assert.equal(p.proto, 17);
  assert.equal(p.ipHeaderLen, 64);
  assert.deepEqual([p.srcPort, p.dstPort, p.app], [5353, 5353, App.Mdns]);
  assert.equal(p.srcMac >= 0, true);
  assert.equal(p.dstMac, -1, "SLL has no destination address");
});

test("IPv4 fragments and options are flagged; a later fragment has no ports", () => {
  const frame = ethernetFrame({ src: "10.0.0.1", dst: "10.0.0.2", proto: "udp", sport: 1, dport: 2 });
  frame.writeUInt16BE(0x2000, 14 + 6); // MF, offset 0
  let p = decode(frame);
  assert.equal(p.fragment, true);
  assert.equal(p.srcPort, 1);
  frame.writeUInt16BE(0x0010, 14 + 6); // offset 16*8
  p = decode(frame);
  assert.equal(p.fragment, true);
  assert.equal(p.srcPort, -1);
  const withOptions = Buffer.concat([frame.subarray(0, 34), Buffer.from([0x94, 0x04, 0, 0]), frame.subarray(34)]);
  withOptions[14] = 0x46;
  withOptions.writeUInt16BE(0, 14 + 6);
  p = decode(withOptions);
  assert.equal(p.ipOptions, true);
  assert.equal(p.srcPort, 1);
});

test("ARP, and truncated headers never throw", () => {
  const arp = Buffer.alloc(42);
  arp.fill(0xff, 0, 6);
  Buffer.from([2, 0, 0, 0, 0, 9]).copy(arp, 6);
  arp.writeUInt16BE(0x0806, 12);
  arp.writeUInt16BE(1, 14);
  arp.writeUInt16BE(0x0800, 16);
  arp[18] = 6;
  arp[19] = 4;
  arp.writeUInt16BE(1, 20);
  Buffer.from([2, 0, 0, 0, 0, 9, 192, 168, 0, 9]).copy(arp, 22);
  Buffer.from([192, 168, 0, 1]).copy(arp, 38);
  const p = decode(arp);
  assert.equal(p.arpOp, 1);
  assert.equal(formatIpv4(p.arpSenderIp), "192.168.0.9");
  assert.equal(formatIpv4(p.arpTargetIp), "192.168.0.1");
  assert.equal(formatMac(p.arpSenderMac), "02:00:00:00:00:09");

  const frame = ethernetFrame({ src: "10.0.0.1", dst: "10.0.0.2", proto: "tcp", sport: 1, dport: 2 });
  for (let n = 1; n < frame.length; n++) {
    const cut = decode(frame.subarray(0, n), 1, frame.length);
    assert.equal(cut.truncated, n < 54, `cut at ${n}`);
  }
  for (const linkType of [0, 12, 101, 108, 113, 228, 229, 276]) {
    for (let n = 1; n < 60; n += 7) decode(Buffer.alloc(n, 0x45), linkType);
  }
});

test("MQTT CONNECT client id, DHCP options and DNS names", () => {
  const clientId = Buffer.from("sensor-7");
  const connect = Buffer.concat([
    Buffer.from([0x10, 12 + clientId.length, 0, 4]),
    Buffer.from("MQTT"),
    Buffer.from([4, 0x02, 0, 60, 0, clientId.length]),
    clientId,
  ]);
  const p = decode(
    ethernetFrame({ src: "10.0.0.1", dst: "10.0.0.2", proto: "tcp", sport: 40000, dport: 1883, payload: connect }),
  );
  assert.deepEqual(parseMqttConnect(p), { clientId: "sensor-7", protocolLevel: 4 });

  const bootp = Buffer.alloc(240);
  bootp[0] = 1;
  bootp[1] = 1;
  bootp[2] = 6;
  Buffer.from([0x00, 0x17, 0x88, 0x24, 0x76, 0xff]).copy(bootp, 28);
  bootp.writeUInt32BE(0x63825363, 236);
  const options = Buffer.from([53, 1, 1, 12, 4, ...Buffer.from("hue\u0007"), 60, 3, ...Buffer.from("abc"), 55, 3, 1, 3, 6, 255]);
  const d = decode(
    ethernetFrame({
      src: "0.0.0.0",
      dst: "255.255.255.255",
      proto: "udp",
      sport: 68,
      dport: 67,
      payload: Buffer.concat([bootp, options]),
    }),
  );
  assert.deepEqual(parseDhcp(d), {
    messageType: 1,
    clientMac: "00:17:88:24:76:ff",
    hostname: "hue?",
    vendorClass: "abc",
    parameterRequestList: [1, 3, 6],
  });

  const dns = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from([6, ...Buffer.from("bridge"), 7, ...Buffer.from("MEETHUE"), 3, ...Buffer.from("com"), 0, 0, 1, 0, 1]),
  ]);
  const q = decode(ethernetFrame({ src: "10.0.0.1", dst: "10.0.0.53", proto: "udp", sport: 4000, dport: 53, payload: dns }));
  assert.deepEqual(parseDnsNames(q), ["bridge.meethue.com"]);
  // A compression loop is refused, not followed forever.
  const loop = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12])]);
  const l = decode(ethernetFrame({ src: "10.0.0.1", dst: "10.0.0.53", proto: "udp", sport: 4000, dport: 53, payload: loop }));
  assert.deepEqual(parseDnsNames(l), []);
});
