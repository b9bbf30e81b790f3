import type { Command } from "commander";
import type { DeviceTrustResponse, TrustSummaryResponse } from "@vigil/contract";
import { ApiError, callApi, type ApiTarget } from "./client.js";
import { printPairs, printTable } from "./output.js";

/** What the trust commands need from the CLI's main file. */
export interface TrustCliContext {
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
}

const dataDirOpt = ["--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)"] as const;

/** The score explanation as text: tier, ceilings, every factor with weight and contribution, evidence. */
export function formatTrust(t: DeviceTrustResponse, options: { history?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(
    printPairs([
      ["device", t.device],
      ["score", `${t.score} / 100 (${t.scoreTier} by score)`],
      ["tier", t.tier + (t.quarantineAwaitsApproval ? " (quarantine awaits operator approval)" : "")],
      ["vertical", t.vertical],
      [
        "thresholds",
        `restricted >= ${t.thresholds.restricted}, standard >= ${t.thresholds.standard}, trusted >= ${t.thresholds.trusted}`,
      ],
      ["connected", t.connected],
    ]),
  );
  for (const c of t.ceilings) lines.push(`held at ${c.tier}: ${c.reason}`);
  lines.push("");
  lines.push(
    printTable(
      t.factors.map((f) => ({
        factor: f.id,
        weight: f.weight.toFixed(3),
        value: f.value.toFixed(2),
        points: f.contribution.toFixed(1),
        lost: f.lost.toFixed(1),
        why: f.detail,
      })),
      ["factor", "weight", "value", "points", "lost", "why"],
    ),
  );
  const evidence = t.factors.flatMap((f) =>
    f.evidence.map((e) => ({ factor: f.id, at: e.at, signal: e.signal, ref: e.link ?? e.ref, summary: e.summary })),
  );
  if (evidence.length > 0) {
    lines.push("", "evidence:");
    lines.push(printTable(evidence, ["factor", "at", "signal", "ref", "summary"]));
  }
  if (options.history === true && t.history.length > 0) {
    lines.push("", "history (newest first):");
    lines.push(
      printTable(
        t.history.map((h) => ({ ...h, change: h.from === null ? "" : `${h.from} -> ${h.tier}`, reasons: h.reasons.join("; ") })),
        ["at", "score", "tier", "change", "reasons"],
      ),
    );
  }
  return lines.join("\n");
}

/** A device's trust explanation, or undefined when it has none yet or the caller may not see it. */
export async function deviceTrust(api: ApiTarget, id: string): Promise<DeviceTrustResponse | undefined> {
  try {
    return (await callApi<DeviceTrustResponse>(api, "GET", `/api/v1/devices/${encodeURIComponent(id)}/trust`)).data;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return undefined;
    throw error;
  }
}

export function registerTrustCommands(program: Command, ctx: TrustCliContext): void {
  const out = (value: unknown, human: () => string) =>
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : human()}\n`);
  const trust = program.command("trust").description("Trust scores and tiers of the fleet's devices (docs/trust.md).");
  trust
    .command("show <id>")
    .description("A device's score, tier, every factor with its weight and contribution, the evidence and the history.")
    .option(...dataDirOpt)
    .action(async (id: string, o: { dataDir?: string }) => {
      const { data } = await callApi<DeviceTrustResponse>(
        await ctx.api(o.dataDir),
        "GET",
        `/api/v1/devices/${encodeURIComponent(id)}/trust`,
      );
      out(data, () => formatTrust(data, { history: true }));
    });
  trust
    .command("list")
    .description("Devices per tier and the lowest-scored devices.")
    .option("--lowest <n>", "how many of the lowest-scored devices to list", "20")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string; lowest: string }) => {
      const { data } = await callApi<TrustSummaryResponse>(
        await ctx.api(o.dataDir),
        "GET",
        `/api/v1/trust?lowest=${encodeURIComponent(o.lowest)}`,
      );
      out(data, () =>
        [
          printPairs([
            ["devices", data.devices],
            ...Object.entries(data.tiers).map(([tier, n]) => [tier, n] as [string, unknown]),
          ]),
          "",
          data.lowest.length === 0 ? "No scored devices." : printTable(data.lowest, ["device", "score", "tier", "vertical"]),
        ].join("\n"),
      );
    });
}
