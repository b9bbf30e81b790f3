import { Option, type Command } from "commander";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AuditListResponse, CreateTokensResponse, DrillDto, IncidentDto, IncidentListDto } from "@vigil/contract";
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
  /** Connect the devices saved in `workDir` instead of enrolling (`--identities`). */
  saved?: boolean;
  /** Write `workDir/fleet.json` after enrolling (`--save-identities`). */
  save?: boolean;
  concurrency?: number;
  /** Called with the fleet before it enrolls (a drill registers its device-id prefix). */
  beforeStart?: (fleet: Fleet) => Promise<void>;
}

async function runSimulation(o: RunOptions) {
  const fleet = new Fleet({
    target: o.target,
    workDir: o.workDir,
    prefix: o.prefix,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    onProgress: progress,
  });
  try {
    return await runFleet(fleet, o);
  } catch (error) {
    // Nothing of the fleet outlives a failed run (its sessions would keep the process alive).
    await fleet.stop();
    throw error;
  }
}

async function runFleet(fleet: Fleet, o: RunOptions) {
  await o.beforeStart?.(fleet);
  const t0 = Date.now();
  if (o.saved === true) {
    progress(`Connecting up to ${o.devices} saved devices from ${o.workDir} (mutual TLS to the gateway, no enrollment)...`);
    await fleet.startSaved(o.devices);
  } else {
    progress(`Enrolling ${o.devices} ${o.mix} devices (claim token, EST, mutual TLS to the gateway)...`);
    await fleet.start(o.devices, o.mix);
    if (o.save === true) progress(`Identities saved: ${await fleet.saveIdentities()}`);
  }
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
  const available = `${scenarioNames.join(", ")}${
    Object.keys(unavailableScenarios).length > 0 ? `; not yet: ${Object.keys(unavailableScenarios).join(", ")}` : ""
  }`;

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
        api: undefined,
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
    return { target, embedded: undefined, signals, api };
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
    .option("--save-identities <dir>", "enroll into DIR and keep the fleet there (fleet.json + keys) for --identities")
    .option("--identities <dir>", "connect the fleet saved in DIR (no enrollment); --devices caps how many")
    .option("--concurrency <n>", "enrollments / connections in parallel", "8")
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
        saveIdentities?: string;
        identities?: string;
        concurrency: string;
      }) => {
        const devices = parseCount(o.devices, "--devices", 100_000);
        const concurrency = parseCount(o.concurrency, "--concurrency", 256);
        if ([o.saveIdentities, o.identities, o.workDir].filter((x) => x !== undefined).length > 1)
          throw new VigilError("CONFIG_INVALID", "give only one of --save-identities, --identities and --work-dir");
        const durationMs = parseDuration(o.duration);
        const names = scenarioList(o.scenario);
        if (!isMixName(o.mix)) throw new VigilError("CONFIG_INVALID", `unknown mix ${o.mix}`);
        const mix = o.mix;
        const { target, embedded, signals } = await connectTarget(o);
        // The firmware scenarios reach the update store: only an in-process Vigil's (`all` skips them elsewhere).
        if (target.ota === undefined && o.scenario?.includes("all") === true)
          names.splice(0, names.length, ...names.filter((n) => n !== "firmware-tamper" && n !== "firmware-downgrade"));
        const kept = o.identities ?? o.saveIdentities ?? o.workDir;
        const workDir = kept !== undefined ? resolve(kept) : mkdtempSync(join(tmpdir(), "vigil-sim-"));
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
            saved: o.identities !== undefined,
            save: o.saveIdentities !== undefined,
            concurrency,
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
          if (kept === undefined) await rm(workDir, { recursive: true, force: true });
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
          ...(Object.keys(unavailableScenarios).length > 0
            ? [
                `Not simulated yet: ${Object.entries(unavailableScenarios)
                  .map(([n, why]) => `${n} (${why})`)
                  .join("; ")}.`,
              ]
            : []),
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
      `Run one attack scenario (${scenarioNames.join(", ")}) against a live Vigil as a drill: devices named drill-*, registered with Vigil (POST /api/v1/drills) so that the audit entries, incidents and outgoing events it triggers carry the drill's id; then a report of the time to detect, contain, acknowledge and recover.`,
    )
    .option("--devices <n>", "how many drill devices", "5")
    .option("--duration <d>", "length of the drill", "30s")
    .option("--wait-ack <d>", "after the attack, wait up to this long for operators to acknowledge its incidents", "0s")
    .option("--embedded", "drill an in-process Vigil instead (to rehearse the drill itself)")
    .option("--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)")
    .option("--mqtt-url <url>", "the gateway's URL (default: the API's host, port 8883)")
    .option("--ground-truth <file>", "where to write the drill's ground truth (JSONL)", "vigil-drill/ground-truth.jsonl")
    .action(
      async (
        name: string,
        o: {
          devices: string;
          duration: string;
          waitAck: string;
          embedded?: boolean;
          dataDir?: string;
          mqttUrl?: string;
          groundTruth: string;
        },
      ) => {
        const [scenario] = scenarioList([name]);
        if (scenario === undefined) return;
        const durationMs = parseDuration(o.duration);
        const waitAckMs = parseDuration(o.waitAck);
        const devices = parseCount(o.devices, "--devices", 1_000);
        const { target, embedded, signals, api } = await connectTarget(o);
        const control: DrillControl = embedded !== undefined ? embeddedDrills(embedded.platform) : apiDrills(api);
        const workDir = mkdtempSync(join(tmpdir(), "vigil-drill-"));
        let drillId: string | undefined;
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
            // Registered before the first enrollment: everything the drill's identities do is tagged.
            beforeStart: async (f) => {
              drillId = await control.start(
                `${scenario} drill`,
                `drill-${f.runId}-`,
                durationMs + waitAckMs + 120_000 + devices * 1_000,
              );
              progress(`Drill ${drillId} registered with Vigil: what it triggers is tagged as a drill.`);
            },
          });
          await fleet.stop();
          progress("Drill attack over; reading its incidents.");
          const outcome = report.attacks[0];
          const truth: GroundTruth | undefined = outcome?.truth;
          const start = truth === undefined ? Date.now() : Date.parse(truth.start);
          // Operators acknowledge the drill's incidents (a note, an approval, a state change) in their own time.
          const incidents = async () => (truth === undefined ? [] : control.incidents(truth.actors));
          let found = await incidents();
          if (waitAckMs > 0)
            progress(`Waiting up to ${o.waitAck} for operators to acknowledge the drill's incidents (${found.length} so far)...`);
          for (let waited = 0; waitAckMs > 0 && waited < waitAckMs; waited += 1_000) {
            if (found.length > 0 && found.every((i) => i.ackAt !== null)) break;
            await new Promise((r) => setTimeout(r, 1_000));
            found = await incidents();
          }
          const first = (values: (number | null | undefined)[]) => {
            const xs = values.filter((v): v is number => typeof v === "number");
            return xs.length === 0 ? null : Math.max(0, Math.min(...xs));
          };
          const back =
            truth === undefined
              ? undefined
              : (signals?.list() ?? []).find(
                  (s) => s.name === "gateway.connected" && s.device === truth.device && s.at >= Date.parse(truth.end),
                );
          const acked = found.filter((i) => i.ackAt !== null).sort((a, b) => (a.ackAt ?? 0) - (b.ackAt ?? 0))[0];
          const summary = {
            drill: drillId ?? null,
            scenario,
            device: truth?.device ?? null,
            start: truth?.start ?? null,
            end: truth?.end ?? null,
            timeToDetectMs: first([outcome?.detectedAfterMs, ...found.map((i) => i.openedAt - start)]),
            timeToContainMs: first([
              outcome?.blockedAfterMs,
              ...found.map((i) => (i.containedAt === null ? null : i.containedAt - start)),
            ]),
            timeToAcknowledgeMs: acked?.ackAt === undefined || acked.ackAt === null ? null : Math.max(0, acked.ackAt - start),
            acknowledgedBy: acked?.ackBy ?? null,
            timeToRecoverMs: first([
              ...found.map((i) => (i.resolvedAt === null ? null : i.resolvedAt - start)),
              back === undefined || truth === undefined ? null : back.at - start,
            ]),
            incidents: found.map((i) => ({ id: i.id, device: i.device, drill: i.drill })),
            errors: run.errors,
          };
          const fmt = (v: number | null, none: string) => (v === null ? none : `${(v / 1000).toFixed(2)} s`);
          out(summary, () =>
            [
              `Drill ${summary.drill ?? "(not registered)"}: ${scenarios[scenario].title} on ${summary.device ?? "(no device)"} (${summary.start ?? "-"} to ${summary.end ?? "-"})`,
              "  measure              after the attack began",
              `  time to detect       ${fmt(summary.timeToDetectMs, "not detected (no alarm, finding or incident named it)")}`,
              `  time to contain      ${fmt(summary.timeToContainMs, "not contained")}`,
              `  time to acknowledge  ${
                summary.timeToAcknowledgeMs === null
                  ? found.length === 0
                    ? "no incident to acknowledge"
                    : `not acknowledged${waitAckMs > 0 ? ` within ${o.waitAck}` : " (give --wait-ack to wait for the operators)"}`
                  : `${fmt(summary.timeToAcknowledgeMs, "")} (by ${summary.acknowledgedBy ?? "?"})`
              }`,
              `  time to recover      ${fmt(summary.timeToRecoverMs, "not recovered (no incident resolved, device not seen again)")}`,
              `  incidents tagged as drill ${summary.drill ?? "-"}: ${found.filter((i) => i.drill === drillId).length} of ${found.length}` +
                (found.length > 0 ? ` (${found.map((i) => i.id).join(", ")})` : ""),
              ...run.errors.map((e) => `  the attack could not run: ${e.error}`),
              signals === undefined ? "  (Vigil's audit log was not readable: the times above may be unknown.)" : "",
              `Ground truth (marked drill): ${resolve(o.groundTruth)}`,
            ]
              .filter(Boolean)
              .join("\n"),
          );
        } finally {
          if (drillId !== undefined) await control.end(drillId).catch(() => undefined);
          await rm(workDir, { recursive: true, force: true });
          await embedded?.stop();
        }
      },
    );
}

/** A drill's incident, reduced to what the report measures (times in ms). */
interface DrillIncident {
  readonly id: string;
  readonly device: string;
  readonly drill: string | null;
  readonly openedAt: number;
  readonly containedAt: number | null;
  readonly resolvedAt: number | null;
  /** The first thing an operator did about it (a note, an approval, a state change). */
  readonly ackAt: number | null;
  readonly ackBy: string | null;
}

/** How `vigil drill` registers itself and reads its incidents: in-process, or over the API. */
interface DrillControl {
  start(name: string, prefix: string, durationMs: number): Promise<string>;
  end(id: string): Promise<void>;
  incidents(devices: readonly string[]): Promise<DrillIncident[]>;
}

/** The operator's acknowledgement: the first timeline entry by someone other than the system or a playbook. */
function ackOf(
  timeline: readonly { at: number; kind: string; by: string }[],
  playbooks: readonly string[],
): { at: number; by: string } | null {
  const entry = timeline.find(
    (e) => e.kind !== "evidence" && e.kind !== "action" && e.by !== "system" && !playbooks.includes(e.by),
  );
  return entry === undefined ? null : { at: entry.at, by: entry.by };
}

function embeddedDrills(platform: Platform): DrillControl {
  return {
    async start(name, prefix, durationMs) {
      return platform.drills.start({ name, devices: [], prefixes: [prefix], durationMs, by: "drill" }).id;
    },
    async end(id) {
      platform.drills.end(id);
    },
    async incidents(devices) {
      const out: DrillIncident[] = [];
      for (const device of devices.slice(0, 20))
        for (const i of await platform.response.list({ limit: 50, device })) {
          const ack = ackOf(i.timeline, i.playbooks);
          out.push({
            id: i.id,
            device: i.device,
            drill: i.drill ?? null,
            openedAt: i.openedAt,
            containedAt: i.containedAt,
            resolvedAt: i.resolvedAt,
            ackAt: ack?.at ?? null,
            ackBy: ack?.by ?? null,
          });
        }
      return out;
    },
  };
}

function apiDrills(api: ApiTarget): DrillControl {
  const ms = (v: string | null) => (v === null ? null : Date.parse(v));
  return {
    async start(name, prefix, durationMs) {
      const { data } = await callApi<DrillDto>(api, "POST", "/api/v1/drills", {
        name,
        prefixes: [prefix],
        durationSeconds: Math.min(86_400, Math.ceil(durationMs / 1000)),
      });
      return data.id;
    },
    async end(id) {
      await callApi(api, "POST", `/api/v1/drills/${encodeURIComponent(id)}/end`, {});
    },
    async incidents(devices) {
      const out: DrillIncident[] = [];
      for (const device of devices.slice(0, 20)) {
        const { data } = await callApi<IncidentListDto>(
          api,
          "GET",
          `/api/v1/incidents?device=${encodeURIComponent(device)}&limit=50`,
        ).catch(() => ({ data: { items: [] } }));
        for (const listed of data.items) {
          const { data: i } = await callApi<IncidentDto>(api, "GET", `/api/v1/incidents/${encodeURIComponent(listed.id)}`);
          const ack = ackOf(
            i.timeline.map((e) => ({ at: Date.parse(e.at), kind: e.kind, by: e.by })),
            i.playbooks,
          );
          out.push({
            id: i.id,
            device: i.device,
            drill: i.drill ?? null,
            openedAt: Date.parse(i.openedAt),
            containedAt: ms(i.containedAt),
            resolvedAt: ms(i.resolvedAt),
            ackAt: ack?.at ?? null,
            ackBy: ack?.by ?? null,
          });
        }
      }
      return out;
    },
  };
}
