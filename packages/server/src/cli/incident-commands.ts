import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parsePlaybooks } from "../response/index.js";
import { callApi, type ApiTarget } from "./client.js";
import { printPairs, printTable } from "./output.js";

/** What the incident commands need from the CLI's main file. */
export interface IncidentCliContext {
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
}

interface IncidentView {
  id: string;
  device: string;
  state: string;
  severity: string;
  rules: string[];
  evidenceCount: number;
  openedAt: string;
  playbooks: string[];
  mitigation: { kind: string; tier: string; until: string | null; releaseOn: string } | null;
  approval: { id: string; actions: string[]; expiresAt: string; onTimeout: string; reason: string } | null;
  measures: { mttdMs: number; timeToContainMs: number | null; mttrMs: number | null };
  timeline: { at: string; kind: string; summary: string; by: string }[];
}

const dataDirOpt = ["--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)"] as const;
const ms = (v: number | null) => (v === null ? "-" : `${(v / 1000).toFixed(1)} s`);

export function formatIncident(i: IncidentView): string {
  const lines = [
    printPairs([
      ["incident", i.id],
      ["device", i.device],
      ["state", i.state],
      ["severity", i.severity],
      ["rules", i.rules.join(", ")],
      ["evidence", i.evidenceCount],
      ["opened", i.openedAt],
      ["playbooks", i.playbooks.join(", ") || "-"],
      [
        "mitigation",
        i.mitigation === null
          ? "-"
          : `${i.mitigation.kind} (${i.mitigation.tier}) until ${i.mitigation.until ?? i.mitigation.releaseOn}`,
      ],
      [
        "approval",
        i.approval === null
          ? "-"
          : `${i.approval.id}: ${i.approval.actions.join(", ")} waits until ${i.approval.expiresAt} (then ${i.approval.onTimeout}); ${i.approval.reason}`,
      ],
      ["MTTD", ms(i.measures.mttdMs)],
      ["time to contain", ms(i.measures.timeToContainMs)],
      ["MTTR", ms(i.measures.mttrMs)],
    ]),
  ];
  if (i.timeline.length > 0) lines.push("", printTable(i.timeline, ["at", "kind", "by", "summary"]));
  return lines.join("\n");
}

export function registerIncidentCommands(program: Command, ctx: IncidentCliContext): void {
  const out = (value: unknown, human: () => string) =>
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : human()}\n`);
  const path = (id: string, action = "") => `/api/v1/incidents/${encodeURIComponent(id)}${action}`;
  const incidents = program
    .command("incidents")
    .description("Incidents opened from findings, their timelines and actions (docs/response.md).");
  incidents
    .command("list")
    .description("Incidents, newest first, and the fleet's MTTD, time to contain and MTTR.")
    .option("--state <state>", "open, contained, recovering, resolved or closed")
    .option("--device <id>", "only this device's incidents")
    .option("--limit <n>", "at most this many", "50")
    .option(...dataDirOpt)
    .action(async (o: { state?: string; device?: string; limit: string; dataDir?: string }) => {
      const api = await ctx.api(o.dataDir);
      const q = new URLSearchParams({ limit: o.limit });
      if (o.state !== undefined) q.set("state", o.state);
      if (o.device !== undefined) q.set("device", o.device);
      const { data } = await callApi<{ items: IncidentView[] }>(api, "GET", `/api/v1/incidents?${q.toString()}`);
      const measures = (
        await callApi<Record<string, { count: number; mean: number | null; median: number | null }>>(
          api,
          "GET",
          "/api/v1/incidents/measures",
        )
      ).data;
      out({ ...data, measures }, () =>
        [
          data.items.length === 0
            ? "No incidents."
            : printTable(
                data.items.map((i) => ({ ...i, rules: i.rules.join(","), pending: i.approval === null ? "" : "approval" })),
                ["id", "device", "state", "severity", "rules", "evidenceCount", "openedAt", "pending"],
              ),
          "",
          printPairs(
            (["mttd", "timeToContain", "mttr"] as const).map((k) => [
              k,
              `median ${ms(measures[k]?.median ?? null)}, mean ${ms(measures[k]?.mean ?? null)} (n=${measures[k]?.count ?? 0})`,
            ]),
          ),
        ].join("\n"),
      );
    });
  incidents
    .command("show <id>")
    .description("One incident: state, mitigation, pending approval, measures and the timeline.")
    .option(...dataDirOpt)
    .action(async (id: string, o: { dataDir?: string }) => {
      const { data } = await callApi<IncidentView>(await ctx.api(o.dataDir), "GET", path(id));
      out(data, () => formatIncident(data));
    });
  incidents
    .command("note <id> <text>")
    .description("Adds a note to the incident's timeline.")
    .option(...dataDirOpt)
    .action(async (id: string, text: string, o: { dataDir?: string }) => {
      const { data } = await callApi<IncidentView>(await ctx.api(o.dataDir), "POST", path(id, "/notes"), { text });
      out(data, () => formatIncident(data));
    });
  for (const [name, action, description] of [
    ["approve", "/approve", "Approves the incident's pending disruptive actions (they run now)."],
    ["deny", "/deny", "Denies the incident's pending disruptive actions (they are skipped)."],
    ["release", "/release", "Lifts the incident's quarantine or throttle."],
    ["readmit", "/readmit", "Rolls a revocation back: the device may enrol again through the door with a new key."],
    ["resolve", "/resolve", "Marks the incident resolved."],
    ["close", "/close", "Closes the incident (lifting any mitigation still in force)."],
  ] as const) {
    incidents
      .command(`${name} <id>`)
      .description(description)
      .option(...dataDirOpt)
      .action(async (id: string, o: { dataDir?: string }) => {
        const { data } = await callApi<IncidentView>(await ctx.api(o.dataDir), "POST", path(id, action));
        out(data, () => formatIncident(data));
      });
  }
  const playbooks = program
    .command("playbooks")
    .description("Response playbooks: condition -> ordered actions (docs/response.md).");
  playbooks
    .command("list")
    .description("The playbooks in force, in the order they are tried.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<{
        items: { id: string; actions: { type: string }[]; approval: { require: string }; description: string }[];
      }>(await ctx.api(o.dataDir), "GET", "/api/v1/playbooks");
      out(data, () =>
        printTable(
          data.items.map((p) => ({ ...p, actions: p.actions.map((a) => a.type).join(" > "), approval: p.approval.require })),
          ["id", "actions", "approval", "description"],
        ),
      );
    });
  playbooks
    .command("validate <file>")
    .description("Checks a YAML or JSON playbook file offline; every problem is listed at once.")
    .action(async (file: string) => {
      const parsed = parsePlaybooks(await readFile(file, "utf8"), file);
      out(
        { valid: true, playbooks: parsed.map((p) => p.id) },
        () => `${file}: ${parsed.length} valid playbook(s): ${parsed.map((p) => p.id).join(", ")}`,
      );
    });
}
