// The daemon's network asset view: hosts reported by packet analysis, marked enrolled (an
// enrolled device holds the address), identified (type known, not enrolled) or unknown.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { callApi } from "../src/cli/client.js";
import { startPlatform, type TestPlatform } from "./support.js";

let t: TestPlatform;
before(async () => {
  t = await startPlatform();
});
after(async () => t.stop());

interface Asset {
  ip: string | null;
  status: string;
  device: string | null;
  deviceType: string | null;
  anomalies: number;
}

test("hosts seen by packet analysis are listed as enrolled, identified or unknown, and bad queries are refused", async () => {
  const bus = t.platform.bus;
  const at = new Date().toISOString();
  bus.emit("asset.discovered", { mac: "02:00:00:00:00:01", ip: "10.0.0.1", firstSeen: at, source: "watch:test" });
  bus.emit("asset.discovered", { mac: "02:00:00:00:00:02", ip: "10.0.0.2", firstSeen: at, source: "watch:test" });
  bus.emit("asset.identified", {
    mac: "02:00:00:00:00:02",
    ip: "10.0.0.2",
    deviceType: "ip-camera",
    confidence: 0.8,
    source: "watch:test",
  });
  bus.emit("asset.discovered", { mac: "02:00:00:00:00:03", ip: "10.0.0.3", firstSeen: at, source: "watch:test" });
  // The site's lease table says an enrolled device holds 10.0.0.3; a packet anomaly comes from it.
  t.platform.detection.network.bind("10.0.0.3", "pump-7");
  bus.emit("network.anomaly_detected", {
    at,
    packet: 1,
    score: 3,
    threshold: 1,
    src: "10.0.0.3:40000",
    dst: "203.0.113.9:23",
    protocol: "tcp",
    deviations: [],
    source: "watch:test",
  });

  const all = await callApi<{ items: Asset[] }>(t.admin, "GET", "/api/v1/network/assets");
  assert.equal(all.status, 200);
  const byIp = new Map(all.data.items.map((a) => [a.ip, a]));
  assert.equal(byIp.get("10.0.0.1")?.status, "unknown");
  assert.equal(byIp.get("10.0.0.2")?.status, "identified");
  assert.equal(byIp.get("10.0.0.2")?.deviceType, "ip-camera");
  assert.equal(byIp.get("10.0.0.3")?.status, "enrolled");
  assert.equal(byIp.get("10.0.0.3")?.device, "pump-7");
  assert.equal(byIp.get("10.0.0.3")?.anomalies, 1);
  assert.equal(all.data.items[0]?.ip, "10.0.0.3", "most recently seen first");

  const unknown = await callApi<{ items: Asset[] }>(t.admin, "GET", "/api/v1/network/assets?status=unknown");
  assert.deepEqual(
    unknown.data.items.map((a) => a.ip),
    ["10.0.0.1"],
  );

  await assert.rejects(callApi(t.admin, "GET", "/api/v1/network/assets?status=rogue"), {
    status: 400,
    code: "REQUEST_INVALID",
  });
  await assert.rejects(callApi(t.anonymous, "GET", "/api/v1/network/assets"), { status: 401 });
  const after = await callApi<{ items: Asset[] }>(t.admin, "GET", "/api/v1/network/assets");
  assert.equal(after.data.items.length, 3, "a refused query changes nothing");
});
