import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { callApi } from "../src/cli/client.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { connectDevice, enrollDevice, recordSignals, waitFor } from "./gateway-support.js";

// Incident response end to end: devices enrolled through EST, connected over mutual TLS to the
// real gateway, attacking; detection raises findings, response opens incidents and runs the
// default playbooks; a webhook receiver on loopback gets the signed events.

let t: TestPlatform;
const dir = tempDir("vigil-response-");
const creds: Record<string, DeviceCredentials> = {};
const secret = "response-test-secret-0123456789";
let hook: Server;
const hooked: { headers: IncomingMessage["headers"]; body: string }[] = [];

before(async () => {
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      hooked.push({ headers: req.headers, body });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const secretFile = join(dir.path, "webhook.secret");
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  t = await startPlatform({
    flags: {
      "response-webhook-url": `http://127.0.0.1:${(hook.address() as AddressInfo).port}/vigil`,
      "response-webhook-secret-file": secretFile,
      "response-approval-timeout-ms": "60000",
      "response-tick-ms": "60000",
    },
  });
  for (const [id, profile] of [
    ["cam-1", "ip-camera"],
    ["sensor-1", "environmental-sensor"],
    ["pump-1", "infusion-pump"],
    ["pump-2", "infusion-pump"],
  ] as const) {
    creds[id] = await enrollDevice(t.platform, dir.path, id, profile);
  }
});
after(async () => {
  await t.stop();
  await new Promise<void>((resolve) => hook.close(() => resolve()));
  dir.remove();
});

const incidentsOf = (device: string) => t.platform.response.list({ limit: 50, device });

test("lateral movement: one incident, quarantined by the playbook, released by an operator, resolved", async () => {
  const signals = recordSignals(t.platform, ["incident.opened", "response.action_taken", "incident.state_changed"]);
  const client = await connectDevice(t.platform.gateway.url, creds["cam-1"]!);
  try {
    client.subscribe("vigil/sensor-1/cmd", { qos: 1 }, () => undefined);
    client.subscribe("vigil/pump-1/cmd", { qos: 1 }, () => undefined);
    await waitFor(
      () => signals.of("response.action_taken").some((a) => a.device === "cam-1" && a.action === "quarantine"),
      5_000,
      "quarantine",
    );
    await t.platform.response.idle();
    // The same identity connecting again from this host: identity evidence joins the same incident.
    const twin = await connectDevice(t.platform.gateway.url, creds["cam-1"]!);
    await waitFor(() => signals.of("response.action_taken").length >= 3, 5_000, "second notify");
    await new Promise((r) => setTimeout(r, 100));
    await t.platform.response.idle();
    twin.end(true);
    const list = await incidentsOf("cam-1");
    assert.equal(list.length, 1, "duplicate findings group into one incident");
    const inc = list[0]!;
    assert.equal(inc.state, "contained");
    // The low-severity identity evidence matched the notify playbook: it ran once more, for it.
    assert.deepEqual(inc.playbooks, ["smart-city-contain", "smart-city-notify"]);
    assert.ok(inc.rules.includes("lateral_movement"));
    assert.ok(inc.rules.includes("identity_cloned"), inc.rules.join());
    assert.ok(inc.evidenceCount >= 2);
    assert.equal(signals.of("incident.opened").filter((o) => o.device === "cam-1").length, 1);
    assert.equal(inc.mitigation?.tier, "quarantine");
    assert.equal(t.platform.gateway.policyOf("cam-1")?.tier, "quarantine");
    // Trust's tier (applied at the next change) cannot lift the mitigation.
    assert.equal(t.platform.response.floor("cam-1", "trusted"), "quarantine");
    assert.deepEqual(
      signals
        .of("response.action_taken")
        .filter((a) => a.device === "cam-1")
        .map((a) => a.action),
      ["quarantine", "notify", "notify"],
    );

    const released = await t.platform.response.release(inc.id, "admin");
    assert.equal(released.mitigation, null);
    // Back at trust's tier (lowered by the finding, not quarantined) with its live session: resolved.
    assert.equal(released.state, "resolved");
    assert.notEqual(t.platform.gateway.policyOf("cam-1")?.tier, "quarantine");
    assert.notEqual(released.resolvedAt, null);
    const after = await t.platform.response.get(inc.id);
    assert.ok(after!.timeline.some((e) => e.kind === "action" && e.ref === "release"));
    assert.notEqual(after!.recoveringAt, null);
    const measures = await t.platform.response.measures();
    assert.ok(measures.incidents >= 1);
    assert.ok((measures.timeToContain.count ?? 0) >= 1);
  } finally {
    signals.stop();
    client.end(true);
  }
  // The webhook got the signed events.
  await t.platform.response.drainSinks();
  const opened = hooked.find((h) => h.headers["x-vigil-event"] === "incident.opened");
  assert.ok(opened, "incident.opened delivered");
  const ts = String(opened.headers["x-vigil-timestamp"]);
  assert.equal(
    opened.headers["x-vigil-signature"],
    `sha256=${createHmac("sha256", secret).update(`${ts}.${opened.body}`).digest("hex")}`,
  );
  assert.equal(JSON.parse(opened.body).incident.device, "cam-1");
});

test("a safety-critical infusion pump: quarantine waits for approval and times out to throttling", async () => {
  const signals = recordSignals(t.platform, [
    "response.approval_requested",
    "response.approval_decided",
    "response.action_taken",
  ]);
  const client = await connectDevice(t.platform.gateway.url, creds["pump-1"]!);
  try {
    client.subscribe("vigil/pump-2/cmd", { qos: 1 }, () => undefined);
    await waitFor(
      () => signals.of("response.approval_requested").some((a) => a.device === "pump-1"),
      5_000,
      "approval requested",
    );
    await t.platform.response.idle();
    const [inc] = await incidentsOf("pump-1");
    assert.ok(inc!.approval !== null);
    assert.deepEqual(
      inc!.approval.actions.map((a) => (a as { type: string }).type),
      ["quarantine"],
    );
    assert.equal(signals.of("response.action_taken").filter((a) => a.device === "pump-1" && a.action === "quarantine").length, 0);
    t.clock.advance(60_001);
    await t.platform.response.sweep();
    const decided = signals.of("response.approval_decided").find((d) => d.device === "pump-1");
    assert.equal(decided?.decision, "timed_out");
    const throttled = signals.of("response.action_taken").find((a) => a.device === "pump-1" && a.action === "throttle");
    assert.equal(throttled?.outcome, "done");
    const [now] = await incidentsOf("pump-1");
    assert.equal(now!.state, "contained");
    assert.equal(now!.mitigation?.tier, "restricted");
    assert.ok(["restricted", "quarantine"].includes(t.platform.gateway.policyOf("pump-1")?.tier ?? ""));
  } finally {
    signals.stop();
    client.end(true);
  }
});

test("through the API: an operator approves a pump's quarantine, notes it, closes the incident", async () => {
  const client = await connectDevice(t.platform.gateway.url, creds["pump-2"]!);
  try {
    client.subscribe("vigil/pump-1/cmd", { qos: 1 }, () => undefined);
    type View = {
      id: string;
      state: string;
      approval: { id: string } | null;
      timeline: { kind: string; by: string; summary: string }[];
    };
    let id = "";
    const deadline = Date.now() + 5_000;
    while (id === "" && Date.now() < deadline) {
      await t.platform.response.idle();
      const list = await callApi<{ items: View[] }>(t.admin, "GET", "/api/v1/incidents?device=pump-2");
      const pending = list.data.items.find((i) => i.approval !== null);
      if (pending !== undefined) id = pending.id;
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(id, "", "an incident awaiting approval");
    const approved = await callApi<View>(t.admin, "POST", `/api/v1/incidents/${id}/approve`);
    assert.equal(approved.data.approval, null);
    assert.equal(approved.data.state, "contained");
    assert.ok(
      approved.data.timeline.some((e) => e.kind === "action" && e.by === "admin" && e.summary.startsWith("quarantine: done")),
    );
    assert.equal(t.platform.gateway.policyOf("pump-2")?.tier, "quarantine");
    await assert.rejects(callApi(t.admin, "POST", `/api/v1/incidents/${id}/approve`), {
      code: "INCIDENT_NO_PENDING_APPROVAL",
      status: 409,
    });
    await callApi(t.admin, "POST", `/api/v1/incidents/${id}/notes`, { text: "ward 3 informed" });
    const closed = await callApi<View>(t.admin, "POST", `/api/v1/incidents/${id}/close`);
    assert.equal(closed.data.state, "closed");
    assert.ok(closed.data.timeline.some((e) => e.kind === "note" && e.summary === "ward 3 informed"));
    await assert.rejects(callApi(t.admin, "GET", "/api/v1/incidents/inc-missing"), { code: "INCIDENT_NOT_FOUND", status: 404 });
    const measures = await callApi<{ incidents: number; mttr: { count: number } }>(t.admin, "GET", "/api/v1/incidents/measures");
    assert.ok(measures.data.mttr.count >= 2);
    const playbooks = await callApi<{ items: { id: string }[] }>(t.admin, "GET", "/api/v1/playbooks");
    assert.ok(playbooks.data.items.some((p) => p.id === "healthcare-contain"));
    await assert.rejects(
      callApi(t.admin, "POST", "/api/v1/playbooks/validate", { text: "id: X\nactions: [{type: nuke}]" }),
      (e: Error & { code?: string; status?: number }) =>
        e.code === "PLAYBOOK_INVALID" && e.status === 400 && e.message.includes("id:") && e.message.includes("actions[0]"),
    );
  } finally {
    client.end(true);
  }
});

test("incidents are persisted (migration 10)", async () => {
  assert.ok((await t.platform.store.schemaVersion()) >= 10);
  const all = await t.platform.store.incidents.list({ limit: 10 });
  assert.ok(all.length >= 2);
});
