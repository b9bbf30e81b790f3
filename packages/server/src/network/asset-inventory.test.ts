import assert from "node:assert/strict";
import { test } from "node:test";
import { InProcessBus } from "../core/index.js";
import type { SignalMap } from "../signals/index.js";
import { AssetInventory } from "./asset-inventory.js";
import type { PacketRecord } from "./capture-reader.js";
import { decodePacket, newDecodedPacket } from "./packet-decoder.js";
import { ethernetFrame } from "./packet-builder.js";

function feed(inventory: AssetInventory, frames: Buffer[], t0 = 100): void {
  const p = newDecodedPacket();
  frames.forEach((buf, index) => {
    const r: PacketRecord = {
      index,
      fileOffset: 0,
      buf,
      offset: 0,
      caplen: buf.length,
      origLen: buf.length,
      ts: t0 + index,
      linkType: 1,
      iface: 0,
    };
    inventory.observe(decodePacket(r, p));
  });
}

const mac = (n: number) => `02:00:00:00:${(n >> 8).toString(16).padStart(2, "0")}:${(n & 0xff).toString(16).padStart(2, "0")}`;

test("an unknown host is announced once; an enrolled one (by MAC or IP) never", () => {
  const bus = new InProcessBus<SignalMap>();
  const seen: SignalMap["asset.discovered"][] = [];
  bus.on("asset.discovered", (s) => seen.push(s));
  const inventory = new AssetInventory({
    signals: bus,
    source: "test",
    known: {
      lookupByMac: (m) => (m === mac(2) ? "pump-0002" : undefined),
      lookupByIp: (ip) => (ip === "192.168.0.3" ? "cam-3" : undefined),
    },
  });
  const frames = [1, 2, 3, 1, 2, 3, 1].map((n) =>
    ethernetFrame({
      srcMac: mac(n),
      dstMac: mac(9),
      src: `192.168.0.${n}`,
      dst: "192.168.0.9",
      proto: "udp",
      sport: 1000,
      dport: 2000,
    }),
  );
  // A routed (public) address behind a known MAC is not the host's own.
  frames.push(
    ethernetFrame({ srcMac: mac(1), dstMac: mac(9), src: "8.8.8.8", dst: "192.168.0.9", proto: "udp", sport: 53, dport: 2000 }),
  );
  feed(inventory, frames);
  assert.deepEqual(seen, [{ mac: mac(1), ip: "192.168.0.1", firstSeen: new Date(100_000).toISOString(), source: "test" }]);
  const hosts = new Map(inventory.hosts().map((h) => [h.mac, h]));
  assert.equal(hosts.get(mac(2))?.device, "pump-0002");
  assert.equal(hosts.get(mac(3))?.device, "cam-3");
  assert.deepEqual([...hosts.get(mac(1))!.ips], ["192.168.0.1"]);
  assert.equal(hosts.get(mac(1))!.packets, 4);
});

test("the host table is bounded: the least recently seen host is forgotten first", () => {
  const inventory = new AssetInventory({ capacity: 16 });
  const frames: Buffer[] = [];
  for (let n = 0; n < 100; n++) {
    frames.push(
      ethernetFrame({
        srcMac: mac(n + 1),
        src: `10.0.${n >> 8}.${n & 0xff}`,
        dst: "10.0.0.254",
        proto: "tcp",
        sport: 40000,
        dport: 80,
      }),
    );
    // Host 1 keeps talking, so it stays.
    frames.push(ethernetFrame({ srcMac: mac(1), src: "10.0.0.0", dst: "10.0.0.254", proto: "tcp", sport: 40000, dport: 80 }));
  }
  feed(inventory, frames);
  assert.equal(inventory.size, 16);
  assert.equal(inventory.evicted, 100 - 16);
  const macs = inventory.hosts().map((h) => h.mac);
  assert.ok(macs.includes(mac(1)), "the busy host is kept");
  assert.ok(macs.includes(mac(100)), "the newest host is kept");
  assert.ok(!macs.includes(mac(2)), "an idle old host is gone");
});
