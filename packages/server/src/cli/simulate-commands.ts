import { Option, type Command } from "commander";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AuditListResponse, CreateTokensResponse } from "@vigil/contract";
import { Platform, loadConfig } from "../app/index.js";
import { VigilError, createRootLogger } from "../core/index.js";
import {
  AuditFollower,
  Fleet,
  SignalObserver,
  TOKENS_PER_REQUEST,
  analyse,
  defaultMqttUrl,
  defaultTimeline,
  formatReport,
  isMixName,
  isScenarioName,
  mixes,
  platformTarget,
  runTimeline,
  scenarioNames,
  scenarios,
  unavailableScenarios,
  type GroundTruth,
  type ObservedSignal,
  type ScenarioName,
  type SimTarget,
  type TimelineEntry,
} from "../simulator/index.js";
import { callApi, type ApiTarget } from "./client.js";

/** What the simulator commands need from the CLI's main file. */
export interface SimulateCliContext {
  /** The API of a running Vigil with the CLI's stored operator token. */
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
}

/** `90`, `90s`, `2m`, `500ms` -> milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null)
    throw new VigilError("CONFIG_INVALID", `duration ${JSON.stringify(text)} is not valid`, {
      hint: "Use e.g. 60, 60s, 2m or 500ms.",
    });
  const unit = m[2] ?? "s";
  return Math.round(Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as "ms"]);
}

function parseCount(text: string, what: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new VigilError("CONFIG_INVALID", `${what} must be a whole number from 1 to ${max}`, { hint: `Got ${text}.` });
  return n;
}

function scenarioList(names: readonly string[] | undefined): ScenarioName[] {
  if (names === undefined || names.length === 0) return [];
  if (names.includes("all")) return [...scenarioNames];
  return names.map((name) => {
    if (isScenarioName(name)) return name;
    const why = unavailableScenarios[name];
    throw new VigilError("CONFIG_INVALID", `scenario ${name} ${why ? `is not available yet: ${why}` : "is unknown"}`, {
      hint: `Available: ${scenarioNames.join(", ")} (or all).`,
    });
  });
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

interface Embedded {
  platform: Platform;
  dataDir: string;
  temporary: boolean;
  initialPassword: string | undefined;
  stop(): Promise<void>;
}

/** Starts a Vigil in this process (a temporary data dir unless one is given), quietly. */
async function startEmbedded(options: { dataDir?: string; httpPort?: string }): Promise<Embedded> {
  process.umask(0o077);
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir !== undefined ? resolve(options.dataDir) : mkdtempSync(join(tmpdir(), "vigil-demo-"));
  const config = await loadConfig({
    env: {},
    cwd: dataDir,
    flags: { "data-dir": dataDir, "http-host": "127.0.0.1", "http-port": options.httpPort ?? "0", "log-level": "error" },
  });
  let initialPassword: string | undefined;
  const platform = new Platform({
    config,
    log: createRootLogger({ level: "error", destination: process.stderr }),
    processMetrics: false,
    onInitialPassword: ({ password }) => (initialPassword = password),
  });
  await platform.start();
  return {
    platform,
    dataDir,
    temporary,
    get initialPassword() {
      return initialPassword;
    },
    async stop() {
      await platform.stop("simulation done");
      if (temporary) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Claim tokens through `POST /api/v1/enrollment-tokens` with the operator's token. */
function apiTarget(api: ApiTarget, mqttUrl: string): SimTarget {
  if (api.ca === undefined)
    throw new VigilError("CONFIG_INVALID", "the simulator needs the server's CA", { hint: "Give --ca-file or --data-dir." });
  return {
    apiUrl: api.url,
    caPem: api.ca,
    mqttUrl,
    async createTokens(profile, count) {
      const tokens: string[] = [];
      for (let left = count; left > 0; left -= TOKENS_PER_REQUEST) {
        const { data } = await callApi<CreateTokensResponse>(api, "POST", "/api/v1/enrollment-tokens", {
          profile,
          ttlSeconds: 3_600,
          count: Math.min(left, TOKENS_PER_REQUEST),
        });
        tokens.push(...data.tokens);
      }
      return tokens;
    },
  };
}

interface RunOptions {
  target: SimTarget;
  devices: number;
  mix: keyof typeof mixes;
  durationMs: number;
  timeline: (totalMs: number) => TimelineEntry[];
  workDir: string;
  groundTruthFile: string;
  prefix: string;
  drill?: boolean;
  /** Where signals come from: the in-process bus, the audit log over the API, or nowhere. */
  signals: { list(): readonly ObservedSignal[]; stop(): Promise<void> } | undefined;
  seed?: number;
}

async function runSimulation(o: RunOptions) {
  const fleet = new Fleet({
    target: o.target,
    workDir: o.workDir,
    prefix: o.prefix,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    onProgress: progress,
  });
  const t0 = Date.now();
  progress(`Enrolling ${o.devices} ${o.mix} devices (claim token, EST, mutual TLS to the gateway)...`);
  await fleet.start(o.devices, o.mix);
  const s = fleet.stats();
  progress(`${s.devices} devices connected in ${((Date.now() - t0) / 1000).toFixed(1)} s; running for ${o.durationMs / 1000} s.`);
  const started = Date.now();
  const entries = o.timeline(o.durationMs);
  for (const e of entries)
    progress(`  at ${(e.atMs / 1000).toFixed(1)} s: ${e.scenario} for ${(e.durationMs / 1000).toFixed(1)} s`);
  const run = await runTimeline(fleet, entries, {
    groundTruthFile: o.groundTruthFile,
    drill: o.drill === true,
    onEvent: (line) => progress(`  [${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`),
  });
  // The rest of the run, bounded by the duration.
  await new Promise((r) => setTimeout(r, Math.max(0, started + o.durationMs - Date.now())));
  await o.signals?.stop();
  const signals = o.signals?.list() ?? [];
  const report = analyse(run.truths, signals);
  return { fleet, run, report, stats: fleet.stats() };
}

export function registerSimulateCommands(program: Command, ctx: SimulateCliContext): void {
  const out = (value: unknown, human: () => string) =>
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : human()}\n`);
  const mixChoices = Object.keys(mixes);
  const available = `${scenarioNames.join(", ")}; not yet: ${Object.keys(unavailableScenarios).join(", ")}`;

  /** The Vigil to simulate against: embedded, or the running one (its audit log followed for the report). */
  async function connectTarget(o: { embedded?: boolean; dataDir?: string; mqttUrl?: string }) {
    if (o.embedded === true) {
      const embedded = await startEmbedded(o.dataDir !== undefined ? { dataDir: o.dataDir } : {});
      const observer = new SignalObserver(embedded.platform.bus);
      return {
        target: platformTarget(embedded.platform),
        embedded,
        signals: {
          list: () => observer.signals,
          stop: async () => observer.stop(),
        },
      };
    }
    const api = await ctx.api(o.dataDir);
    const target = apiTarget(api, o.mqttUrl ?? defaultMqttUrl(api.url));
    const follower = new AuditFollower(async (after) => {
      const { data } = await callApi<AuditListResponse>(api, "GET", `/api/v1/audit?after=${after}&limit=1000`);
      return data;
    });
    let signals: RunOptions["signals"];
    try {
      await follower.start();
      signals = { list: () => follower.signals, stop: () => follower.stop() };
    } catch (error) {
      progress(`(cannot read the audit log, so the report will not show what Vigil did: ${(error as Error).message})`);
    }
    return { target, embedded: undefined, signals };
  }

  program
    .command("simulate")
    .description(
      `Run a fleet of virtual devices (each enrolls and connects over mutual TLS) against a running Vigil, or an embedded one, with optional attack scenarios (${available}).`,
    )
    .option("--devices <n>", "how many devices", "20")
    .addOption(new Option("--mix <kind>", "kind of fleet").choices(mixChoices).default("mixed"))
    .option("--duration <d>", "how long to run (60, 60s, 2m)", "60s")
    .option("--scenario <names...>", "attack scenarios on the timeline (or all)")
    .option("--embedded", "start an in-process Vigil in a temporary data dir instead of using a running one")
    .option(
      "--data-dir <dir>",
      "data directory of a local Vigil (to find its URL and CA); with --embedded, where to keep its data",
    )
    .option("--mqtt-url <url>", "the gateway's URL (default: the API's host, port 8883)")
    .option("--ground-truth <file>", "where to write the attacks' ground truth (JSONL)", "vigil-sim/ground-truth.jsonl")
    .option("--work-dir <dir>", "where the devices keep their keys and certificates (default: a temporary dir)")
    .option("--seed <n>", "random seed (reproducible fleet and telemetry)")
    .action(
      async (o: {
        devices: string;
        mix: string;
        duration: string;
        scenario?: string[];
        embedded?: boolean;
        dataDir?: string;
        mqttUrl?: string;
        groundTruth: string;
        workDir?: string;
        seed?: string;
      }) => {
        const devices = parseCount(o.devices, "--devices", 100_000);
        const durationMs = parseDuration(o.duration);
        const names = scenarioList(o.scenario);
        if (!isMixName(o.mix)) throw new VigilError("CONFIG_INVALID", `unknown mix ${o.mix}`);
        const mix = o.mix;
        const { target, embedded, signals } = await connectTarget(o);
        const workDir = o.workDir ?? mkdtempSync(join(tmpdir(), "vigil-sim-"));
        try {
          const { fleet, report, stats, run } = await runSimulation({
            target,
            devices,
            mix,
            durationMs,
            timeline: (total) => defaultTimeline(total, names),
            workDir,
            groundTruthFile: resolve(o.groundTruth),
            prefix: "sim",
            signals,
            ...(o.seed !== undefined ? { seed: Number(o.seed) } : {}),
          });
          await fleet.stop();
          out({ stats, attacks: report.attacks, benignFlags: report.benignFlags.length, errors: run.errors }, () =>
            [
              formatReport(report, stats),
              ...run.errors.map((e) => `Attack ${e.scenario} could not run: ${e.error}`),
              signals === undefined ? "(Vigil's signals were not readable: the attacks above show no outcome.)" : "",
              names.length > 0 ? `Ground truth: ${resolve(o.groundTruth)}` : "",
            ]
              .filter(Boolean)
              .join("\n"),
          );
        } finally {
          if (o.workDir === undefined) await rm(workDir, { recursive: true, force: true });
          await embedded?.stop();
        }
      },
    );

  program
    .command("demo")
    .description(
      "Start Vigil, a fleet of virtual devices and a timeline of attacks; print what was blocked and detected, and how fast; leave Vigil running for the console.",
    )
    .option("--duration <d>", "length of the attack timeline (40, 40s, 1m)", "40s")
    .option("--devices <n>", "how many devices", "50")
    .option("--no-wait", "exit after printing the summary (for scripts)")
    .option("--data-dir <dir>", "keep Vigil's data here (default: a temporary dir, removed on exit)")
    .option("--http-port <port>", "API port (default: a free one)")
    .action(async (o: { duration: string; devices: string; wait: boolean; dataDir?: string; httpPort?: string }) => {
      const durationMs = parseDuration(o.duration);
      const devices = parseCount(o.devices, "--devices", 10_000);
      progress("Starting Vigil (embedded: store, PKI, EST enrollment, MQTT gateway, API)...");
      const embedded = await startEmbedded({
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
        ...(o.httpPort !== undefined ? { httpPort: o.httpPort } : {}),
      });
      const { platform } = embedded;
      progress(`Vigil is up: API ${platform.url}, MQTT gateway ${platform.gateway.url}, data in ${embedded.dataDir}`);
      const observer = new SignalObserver(platform.bus);
      const groundTruthFile = join(embedded.dataDir, "simulator", "ground-truth.jsonl");
      const { fleet, report, stats, run } = await runSimulation({
        target: platformTarget(platform, "demo"),
        devices,
        mix: "mixed",
        durationMs,
        timeline: (total) => defaultTimeline(total, scenarioNames),
        workDir: join(embedded.dataDir, "simulator", "devices"),
        groundTruthFile,
        prefix: "demo",
        signals: { list: () => observer.signals, stop: async () => undefined },
      });
      out({ stats, attacks: report.attacks, benignFlags: report.benignFlags.length, errors: run.errors, groundTruthFile }, () =>
        [
          "",
          "What happened",
          "=============",
          formatReport(report, stats),
          ...run.errors.map((e) => `Attack ${e.scenario} could not run: ${e.error}`),
          `Not simulated yet: ${Object.entries(unavailableScenarios)
            .map(([n, why]) => `${n} (${why})`)
            .join("; ")}.`,
          `Ground truth of the attacks: ${groundTruthFile}`,
        ].join("\n"),
      );
      if (!o.wait) {
        observer.stop();
        await fleet.stop();
        await embedded.stop();
        return;
      }
      process.stdout.write(
        [
          "",
          "Vigil keeps running with the fleet (Ctrl-C to stop):",
          `  API        ${platform.url}   (OpenAPI: ${platform.url}/docs)`,
          `  CA         ${platform.caFile}`,
          `  Log in     vigil login --data-dir ${embedded.dataDir}   (operator admin${
            embedded.initialPassword !== undefined ? `, one-time password ${embedded.initialPassword}` : ", your password"
          })`,
          embedded.temporary ? "  The temporary data dir is removed when you stop it; give --data-dir to keep it." : "",
          "",
        ].join("\n"),
      );
      await new Promise<void>((resolveStop) => {
        const stop = () => resolveStop();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      progress("Stopping...");
      observer.stop();
      await fleet.stop();
      await embedded.stop();
    });

  program
    .command("drill <scenario>")
    .description(
      `Run one attack scenario (${scenarioNames.join(", ")}) against a live Vigil as a drill: a few devices named drill-*, ground truth marked drill, and a report of how fast the platform detected and contained it.`,
    )
    .option("--devices <n>", "how many drill devices", "5")
    .option("--duration <d>", "length of the drill", "30s")
    .option("--embedded", "drill an in-process Vigil instead (to rehearse the drill itself)")
    .option("--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)")
    .option("--mqtt-url <url>", "the gateway's URL (default: the API's host, port 8883)")
    .option("--ground-truth <file>", "where to write the drill's ground truth (JSONL)", "vigil-drill/ground-truth.jsonl")
    .action(
      async (
        name: string,
        o: { devices: string; duration: string; embedded?: boolean; dataDir?: string; mqttUrl?: string; groundTruth: string },
      ) => {
        const [scenario] = scenarioList([name]);
        if (scenario === undefined) return;
        const durationMs = parseDuration(o.duration);
        const devices = parseCount(o.devices, "--devices", 1_000);
        const { target, embedded, signals } = await connectTarget(o);
        const workDir = mkdtempSync(join(tmpdir(), "vigil-drill-"));
        try {
          const attackMs = Math.max(2_000, Math.floor(durationMs * 0.4));
          const { fleet, report, run } = await runSimulation({
            target,
            devices,
            mix: "mixed",
            durationMs,
            timeline: (total) => [{ scenario, atMs: Math.floor(total * 0.2), durationMs: attackMs }],
            workDir,
            groundTruthFile: resolve(o.groundTruth),
            prefix: "drill",
            drill: true,
            signals,
          });
          await fleet.stop();
          const outcome = report.attacks[0];
          const truth: GroundTruth | undefined = outcome?.truth;
          const recoveredAfterMs =
            truth === undefined
              ? null
              : (() => {
                  const end = Date.parse(truth.end);
                  const back = (signals?.list() ?? []).find(
                    (s) => s.name === "gateway.connected" && s.device === truth.device && s.at >= end,
                  );
                  return back ? back.at - end : null;
                })();
          const summary = {
            drill: scenario,
            device: truth?.device ?? null,
            start: truth?.start ?? null,
            end: truth?.end ?? null,
            timeToDetectMs: outcome?.detectedAfterMs ?? null,
            timeToContainMs: outcome?.blockedAfterMs ?? null,
            timeToAcknowledgeMs: null,
            timeToRecoverMs: recoveredAfterMs,
            errors: run.errors,
          };
          const fmt = (v: number | null, none: string) => (v === null ? none : `${(v / 1000).toFixed(2)} s`);
          out(summary, () =>
            [
              `Drill: ${scenarios[scenario].title} on ${summary.device ?? "(no device)"} (${summary.start ?? "-"} to ${summary.end ?? "-"})`,
              `  time to detect      ${fmt(summary.timeToDetectMs, "not detected (no alarm or finding named it)")}`,
              `  time to contain     ${fmt(summary.timeToContainMs, "not contained by the gateway")}`,
              "  time to acknowledge not measured: incidents and their acknowledgement are not built yet",
              `  time to recover     ${fmt(summary.timeToRecoverMs, "the device did not need to reconnect (or was not seen again)")}`,
              signals === undefined ? "  (Vigil's audit log was not readable: times above are unknown.)" : "",
              `Ground truth (marked drill): ${resolve(o.groundTruth)}`,
            ]
              .filter(Boolean)
              .join("\n"),
          );
        } finally {
          await rm(workDir, { recursive: true, force: true });
          await embedded?.stop();
        }
      },
    );
}
