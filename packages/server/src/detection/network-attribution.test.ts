import assert from "node:assert/strict";
import { test } from "node:test";
import { NetworkAttribution } from "./network-attribution.js";

const probe = (i: number) => ({ src: "10.20.0.7:40000", dst: `203.0.${i >> 8}.${i & 255}:23`, score: 3 });

test("a device's scan is attributed through the address its session came from, once per window", () => {
  const a = new NetworkAttribution({ minAlerts: 20, minDestinations: 10, windowMs: 10_000 });
  a.sessionFrom("cam-1", "10.20.0.7:51234");
  const found = [];
  for (let i = 0; i < 60; i++) {
    const e = a.alert(probe(i), 1_000 + i);
    if (e !== undefined) found.push(e);
  }
  assert.equal(found.length, 1, "one finding per window, not one per packet");
  assert.equal(found[0]!.device, "cam-1");
  assert.equal(found[0]!.alerts, 20);
  assert.equal(found[0]!.addressFrom, "session");
  assert.deepEqual(found[0]!.ports[0], { port: "23", packets: 20 });
  // A new window after this one ends reports again.
  let again = 0;
  for (let i = 0; i < 25; i++) if (a.alert(probe(i), 20_000 + i) !== undefined) again++;
  assert.equal(again, 1);
});

test("many alerts to one destination are not a scan; an address shared by two devices blames neither", () => {
  const a = new NetworkAttribution({ minAlerts: 5, minDestinations: 5 });
  a.sessionFrom("pump-1", "10.0.0.5:1000");
  for (let i = 0; i < 50; i++) assert.equal(a.alert({ src: "10.0.0.5:1000", dst: "10.0.0.1:8883", score: 2 }, i), undefined);
  a.sessionFrom("cam-1", "127.0.0.1:5000");
  a.sessionFrom("cam-2", "127.0.0.1:5001");
  assert.equal(a.deviceAt("127.0.0.1"), undefined);
  for (let i = 0; i < 50; i++) assert.equal(a.alert({ ...probe(i), src: "127.0.0.1:4000" }, i), undefined);
  assert.equal(a.unattributed, 50);
  assert.equal(a.alert({ ...probe(1), src: "192.0.2.9:1" }, 1), undefined, "an unknown address attributes nothing");
});

test("a site binding (DHCP lease) is authoritative and the state stays bounded", () => {
  const a = new NetworkAttribution({ minAlerts: 3, minDestinations: 3, maxAddresses: 100, maxTracked: 10 });
  a.sessionFrom("cam-1", "10.20.0.7:1");
  a.bind("10.20.0.7", "cam-2");
  a.sessionFrom("cam-3", "10.20.0.7:2");
  assert.equal(a.deviceAt("10.20.0.7"), "cam-2");
  let e;
  for (let i = 0; i < 3; i++) e = a.alert(probe(i), i);
  assert.equal(e?.device, "cam-2");
  assert.equal(e?.addressFrom, "site");
  for (let i = 0; i < 1_000; i++) {
    a.sessionFrom(`d-${i}`, `10.1.${i >> 8}.${i & 255}:1`);
    a.alert({ src: `10.1.${i >> 8}.${i & 255}:1`, dst: "1.1.1.1:23", score: 1 }, i);
  }
  assert.ok(a.size().addresses <= 100, `addresses ${a.size().addresses}`);
  assert.ok(a.size().windows <= 10, `windows ${a.size().windows}`);
});
