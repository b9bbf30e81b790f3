import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { AuditListResponse, DrillDto, DrillListDto, IncidentFleetMeasuresDto } from "@vigil/contract";
import { saveToken } from "../src/cli/credentials.js";
import { callApi } from "../src/cli/client.js";
import { runCli, startPlatform, tempDir, type TestPlatform } from "./support.js";

let t: TestPlatform;
const dir = tempDir("vigil-drill-");
const siem = join(dir.path, "siem.jsonl");
let config: string;
let caFile: string;

before(async () => {
  t = await startPlatform({ flags: { "response-siem-file": siem } });
  config = join(dir.path, "config");
  await saveToken(
    t.platform.url,
    { token: t.admin.token!, operator: "admin", expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
    join(config, "vigil", "credentials.json"),
  );
  caFile = join(dir.path, "ca.pem");
  writeFileSync(caFile, t.platform.ca);
});

after(async () => {
  await t.stop();
  dir.remove();
});

async function allAudit() {
  const items: AuditListResponse["items"] = [];
  let after = 0;
  for (let page = 0; page < 50; page++) {
    const { data } = await callApi<AuditListResponse>(t.admin, "GET", `/api/v1/audit?after=${after}&limit=1000`);
    items.push(...data.items);
    if (data.next === null || data.items.length === 0) break;
    after = data.next;
  }
  return items;
}

test("vigil drill against a live Vigil: registered, everything it triggers tagged, an operator's acknowledgement measured, drills kept out of the real measures", async () => {
  const drill = runCli(
    [
      "--server",
      t.platform.url,
      "--ca-file",
      caFile,
      "--json",
      "drill",
      "cloned-identity",
      "--devices",
      "3",
      "--duration",
      "8s",
      "--wait-ack",
      "40s",
      "--mqtt-url",
      t.platform.gateway.url,
      "--ground-truth",
      join(dir.path, "truth.jsonl"),
    ],
    { env: { XDG_CONFIG_HOME: config }, timeoutMs: 120_000 },
  );
  // The operator on duty: acknowledges the drill's incident with a note as soon as it shows up.
  let acknowledged: string | undefined;
  for (let i = 0; i < 600 && acknowledged === undefined; i++) {
    const open = (await t.platform.response.list({ limit: 50 })).find((x) => typeof x.drill === "string");
    if (open !== undefined) {
      await callApi(t.admin, "POST", `/api/v1/incidents/${open.id}/notes`, { text: "drill seen, on it" });
      acknowledged = open.id;
    } else await new Promise((r) => setTimeout(r, 100));
  }
  const run = await drill;
  assert.equal(run.code, 0, run.stderr);
  assert.ok(acknowledged, "the drill opened an incident");
  const report = JSON.parse(run.stdout) as {
    drill: string;
    device: string;
    timeToDetectMs: number | null;
    timeToContainMs: number | null;
    timeToAcknowledgeMs: number | null;
    acknowledgedBy: string | null;
    incidents: { id: string; drill: string | null }[];
  };
  assert.match(report.drill, /^drl_/);
  assert.notEqual(report.timeToDetectMs, null);
  assert.notEqual(report.timeToAcknowledgeMs, null);
  assert.equal(report.acknowledgedBy, "admin");
  assert.ok(report.timeToAcknowledgeMs! >= report.timeToDetectMs!, "acknowledged after it was detected");
  assert.ok(report.incidents.some((i) => i.id === acknowledged));
  assert.ok(
    report.incidents.every((i) => i.drill === report.drill),
    "every incident of the drill carries its id",
  );

  // Audit entries about the drill's devices carry the drill; the drill's registration is audited.
  const audit = await allAudit();
  const about = audit.filter((e) => (e.details as { device?: unknown }).device === report.device);
  assert.ok(about.length > 0);
  const during = about.filter((e) => e.action === "identity.cloned_suspected");
  assert.ok(during.length > 0 && during.every((e) => (e.details as { drill?: unknown }).drill === report.drill));
  assert.ok(audit.some((e) => e.action === "drill.started" && (e.details as { drill?: unknown }).drill === report.drill));
  // Outgoing events (here the SIEM file) carry it too.
  const events = readFileSync(siem, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { incident: { id: string; drill?: string } });
  const ofDrill = events.filter((e) => e.incident.id === acknowledged);
  assert.ok(ofDrill.length > 0 && ofDrill.every((e) => e.incident.drill === report.drill));
  // Drill incidents do not count in the real response-time figures.
  const { data: measures } = await callApi<IncidentFleetMeasuresDto>(t.admin, "GET", "/api/v1/incidents/measures");
  const real = (await t.platform.response.list({ limit: 500 })).filter((i) => typeof i.drill !== "string").length;
  assert.equal(measures.incidents, real);
  // The drill was ended by the command.
  const { data: drills } = await callApi<DrillListDto>(t.admin, "GET", "/api/v1/drills");
  assert.equal(drills.items.find((d) => d.id === report.drill)?.active, false);
});

test("drills API: bad input and unknown drills are refused with their codes, and nothing registered is changed", async () => {
  const { data: before } = await callApi<DrillListDto>(t.admin, "GET", "/api/v1/drills");
  const { data: made } = await callApi<DrillDto>(t.admin, "POST", "/api/v1/drills", {
    name: "tabletop",
    devices: ["dev-a"],
    durationSeconds: 600,
  });
  assert.equal(made.active, true);
  await assert.rejects(
    callApi(t.admin, "POST", "/api/v1/drills", { name: "nothing", durationSeconds: 60 }),
    (e: { code?: string }) => e.code === "REQUEST_INVALID",
  );
  await assert.rejects(
    callApi(t.admin, "POST", "/api/v1/drills", { name: "short prefix", prefixes: ["d"], durationSeconds: 60 }),
    (e: { code?: string }) => e.code === "REQUEST_INVALID",
  );
  await assert.rejects(
    callApi(t.admin, "POST", "/api/v1/drills/drl_nope/end", {}),
    (e: { code?: string }) => e.code === "DRILL_NOT_FOUND",
  );
  const { data: afterList } = await callApi<DrillListDto>(t.admin, "GET", "/api/v1/drills");
  assert.equal(afterList.items.length, before.items.length + 1);
  assert.equal(afterList.items.find((d) => d.id === made.id)?.active, true, "the drill registered before is untouched");
  assert.equal(t.platform.drills.drillOf("dev-a"), made.id);
  assert.equal(t.platform.drills.drillOf("dev-b"), undefined);
});
