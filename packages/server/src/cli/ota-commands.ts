import { Option, type Command } from "commander";
import { readFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import {
  ErrorBody,
  type OtaArtifactDto,
  type OtaCampaignDeviceDto,
  type OtaCampaignDto,
  type OtaKeysResponse,
} from "@vigil/contract";
import { VigilError } from "../core/index.js";
import { ApiError, callApi, type ApiTarget } from "./client.js";
import { printPairs, printTable } from "./output.js";

export interface OtaCliContext {
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
}

const dataDirOpt = ["--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)"] as const;

/** POSTs raw bytes (a firmware image) and parses the JSON answer like `callApi`. */
export async function uploadBytes<T>(target: ApiTarget, path: string, body: Buffer): Promise<{ status: number; data: T }> {
  const url = new URL(path, target.url);
  if (url.protocol !== "https:") throw new VigilError("CLI_SERVER_UNREACHABLE", "firmware is uploaded over HTTPS only");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: "POST",
        ca: target.ca,
        servername: isIP(host) === 0 ? host : "",
        headers: {
          accept: "application/json",
          "content-type": "application/octet-stream",
          "content-length": String(body.length),
          ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        },
        timeout: 300_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error) =>
      reject(new VigilError("CLI_SERVER_UNREACHABLE", `cannot reach Vigil at ${target.url}: ${error.message}`, { cause: error })),
    );
    req.end(body);
  });
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    // left as text
  }
  if (status >= 400) {
    const parsed = ErrorBody.safeParse(data);
    throw new ApiError(
      status,
      parsed.success ? parsed.data.error : { code: "INTERNAL", message: `HTTP ${status}: ${text.slice(0, 200)}` },
    );
  }
  return { status, data: data as T };
}

function campaignSummary(c: OtaCampaignDto): string {
  const counts = Object.entries(c.counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${state} ${n}`)
    .join(", ");
  return printPairs([
    ["id", c.id],
    ["name", c.name],
    ["artifact", `${c.artifact} (${c.version})`],
    ["state", c.state],
    ["wave", `${c.wave + 1} of ${c.waves}`],
    ["devices", `${c.devices}: ${counts}`],
    ["halted because", c.haltReason],
    ["rollback", c.options.rollback],
    ["thresholds", `failures ${c.options.failureThresholdPercent}%, trust drops ${c.options.trustDropThresholdPercent}%`],
    [
      "rate",
      `${c.options.maxPerMinute}/min${c.options.window ? `, window ${c.options.window.start}-${c.options.window.end} UTC` : ""}`,
    ],
  ]);
}

/** `vigil ota keys|artifact|campaign ...`: signed firmware and staged update campaigns. */
export function registerOtaCommands(program: Command, ctx: OtaCliContext): void {
  const out = (value: unknown, human: () => string) =>
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : human()}\n`);
  const keysLine = (k: OtaKeysResponse) =>
    printPairs([
      ["algorithm", k.algorithm],
      ["root", `v${k.rootVersion}, keys ${k.rootKeyIds.map((id) => id.slice(0, 16)).join(", ")}, expires ${k.rootExpires}`],
      [
        "targets",
        `v${k.targetsVersion}, keys ${k.targetsKeyIds.map((id) => id.slice(0, 16)).join(", ")}, expires ${k.targetsExpires}`,
      ],
    ]);

  const ota = program.command("ota").description("Signed over-the-air updates: keys, firmware artifacts, staged campaigns.");

  const keys = ota
    .command("keys")
    .description("The OTA root and targets signing keys (separate from the CA, sealed in the key vault).");
  keys
    .command("init")
    .description("Create the root and targets keys and sign root metadata v1.")
    .addOption(new Option("--algorithm <alg>", "signature algorithm").choices(["ed25519", "ecdsa-p256"]).default("ed25519"))
    .option(...dataDirOpt)
    .action(async (o: { algorithm: string; dataDir?: string }) => {
      const { data } = await callApi<OtaKeysResponse>(await ctx.api(o.dataDir), "POST", "/api/v1/ota/keys", {
        algorithm: o.algorithm,
      });
      out(data, () => `Created the OTA signing keys.\n${keysLine(data)}`);
    });
  keys
    .command("rotate")
    .description(
      "Rotate keys: a new root version signed by the old and new root keys; devices follow it, the old keys are refused.",
    )
    .addOption(new Option("--role <role>", "which key to replace").choices(["targets", "root", "both"]).default("targets"))
    .addOption(new Option("--algorithm <alg>", "algorithm of the new keys").choices(["ed25519", "ecdsa-p256"]))
    .option(...dataDirOpt)
    .action(async (o: { role: string; algorithm?: string; dataDir?: string }) => {
      const { data } = await callApi<OtaKeysResponse>(await ctx.api(o.dataDir), "POST", "/api/v1/ota/keys/rotate", {
        role: o.role,
        ...(o.algorithm ? { algorithm: o.algorithm } : {}),
      });
      out(data, () => `Rotated the OTA ${o.role} key.\n${keysLine(data)}`);
    });
  keys
    .command("show")
    .description("Show the keys and metadata versions in force.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<OtaKeysResponse>(await ctx.api(o.dataDir), "GET", "/api/v1/ota/keys");
      out(data, () => keysLine(data));
    });

  const artifact = ota.command("artifact").description("Firmware images and their signed manifests.");
  artifact
    .command("add <image>")
    .description("Add a firmware image: hashed, stored, listed in newly signed targets metadata.")
    .requiredOption("--version <v>", "semantic version of the image")
    .requiredOption("--profile <id>", "device profile it is for")
    .option("--hardware <ids>", "comma-separated hardware ids it runs on (default: any of the profile)")
    .option("--min-version <v>", "devices must run at least this version first")
    .option("--counter <n>", "anti-rollback security counter (default: the profile's highest)")
    .option("--sbom <ref>", "SBOM reference")
    .option("--name <name>", "target name (default: <profile>-<version>)")
    .option(...dataDirOpt)
    .action(
      async (
        file: string,
        o: {
          version: string;
          profile: string;
          hardware?: string;
          minVersion?: string;
          counter?: string;
          sbom?: string;
          name?: string;
          dataDir?: string;
        },
      ) => {
        const query = new URLSearchParams({
          version: o.version,
          profile: o.profile,
          ...(o.hardware ? { hardware: o.hardware } : {}),
          ...(o.minVersion ? { minVersion: o.minVersion } : {}),
          ...(o.counter ? { counter: o.counter } : {}),
          ...(o.sbom ? { sbomRef: o.sbom } : {}),
          ...(o.name ? { name: o.name } : {}),
        });
        const { data } = await uploadBytes<OtaArtifactDto>(
          await ctx.api(o.dataDir),
          `/api/v1/ota/artifacts?${query.toString()}`,
          await readFile(file),
        );
        out(data, () => `Added ${data.name}: ${data.length} bytes, SHA-256 ${data.sha256}, counter ${data.counter}.`);
      },
    );
  artifact
    .command("list")
    .description("List firmware artifacts.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<{ items: OtaArtifactDto[] }>(await ctx.api(o.dataDir), "GET", "/api/v1/ota/artifacts");
      out(data.items, () =>
        data.items.length === 0
          ? "No artifacts."
          : printTable(
              data.items.map((a) => ({ ...a, hardware: a.hardware.join(",") || "any", sha256: a.sha256.slice(0, 16) })),
              ["name", "version", "profile", "hardware", "minVersion", "counter", "length", "sha256", "createdAt"],
            ),
      );
    });

  const campaign = ota.command("campaign").description("Staged update campaigns: canary, waves, automatic halt and rollback.");
  campaign
    .command("create <name>")
    .description("Create a campaign (draft) for an artifact; `start` begins it.")
    .requiredOption("--artifact <name>", "the artifact to roll out")
    .option("--profile <id>", "target devices of this profile (default: the artifact's)")
    .option("--tag <tag...>", "target devices carrying every one of these tags")
    .option("--tier <tier...>", "target devices in these trust tiers")
    .option("--devices <ids>", "target exactly these devices (comma-separated)")
    .option("--canary <percent>", "canary share of the fleet", "5")
    .option("--wave <percent>", "each later wave's share of the fleet", "25")
    .option("--rate <n>", "devices told per minute", "600")
    .option("--failure-threshold <percent>", "halt when failures exceed this share", "10")
    .option("--trust-threshold <percent>", "halt when trust drops exceed this share", "10")
    .addOption(new Option("--rollback <mode>", "on halt").choices(["automatic", "manual"]).default("automatic"))
    .option("--window <HH:MM-HH:MM>", "daily maintenance window (UTC)")
    .option("--timeout <seconds>", "a device silent this long counts as failed", "1800")
    .option(...dataDirOpt)
    .action(async (name: string, o: Record<string, string | string[] | undefined>) => {
      const window = typeof o.window === "string" ? /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(o.window) : null;
      if (o.window !== undefined && window === null)
        throw new VigilError("CONFIG_INVALID", "--window must look like 22:00-04:00");
      const body = {
        name,
        artifact: o.artifact,
        target: {
          ...(o.profile ? { profile: o.profile } : {}),
          ...(o.tag ? { tags: o.tag } : {}),
          ...(o.tier ? { tiers: o.tier } : {}),
          ...(typeof o.devices === "string"
            ? {
                devices: o.devices
                  .split(",")
                  .map((d) => d.trim())
                  .filter(Boolean),
              }
            : {}),
        },
        canaryPercent: Number(o.canary),
        wavePercent: Number(o.wave),
        maxPerMinute: Number(o.rate),
        failureThresholdPercent: Number(o.failureThreshold),
        trustDropThresholdPercent: Number(o.trustThreshold),
        rollback: o.rollback,
        window: window === null ? null : { start: window[1], end: window[2] },
        deviceTimeoutSeconds: Number(o.timeout),
      };
      const { data } = await callApi<OtaCampaignDto>(
        await ctx.api(o.dataDir as string | undefined),
        "POST",
        "/api/v1/ota/campaigns",
        body,
      );
      out(
        data,
        () =>
          `Created campaign ${data.id} (draft): ${data.devices} devices in ${data.waves} waves. Start it with \`vigil ota campaign start ${data.id}\`.`,
      );
    });
  for (const action of ["start", "pause", "resume", "rollback", "cancel"] as const) {
    campaign
      .command(`${action} <id>`)
      .description(
        {
          start: "Start a draft campaign (the canary first).",
          pause: "Pause: no new device is told to update.",
          resume: "Resume a paused or halted campaign.",
          rollback: "Tell every device the campaign updated to go back to its previous firmware.",
          cancel: "Stop the campaign: no further device is told; updated devices keep the new version.",
        }[action],
      )
      .option(...dataDirOpt)
      .action(async (id: string, o: { dataDir?: string }) => {
        const { data } = await callApi<OtaCampaignDto>(
          await ctx.api(o.dataDir),
          "POST",
          `/api/v1/ota/campaigns/${encodeURIComponent(id)}/${action}`,
        );
        out(data, () => campaignSummary(data));
      });
  }
  campaign
    .command("status [id]")
    .description("One campaign (with --devices, each device), or all of them.")
    .option("--devices", "list each targeted device's wave and state")
    .option(...dataDirOpt)
    .action(async (id: string | undefined, o: { devices?: boolean; dataDir?: string }) => {
      const target = await ctx.api(o.dataDir);
      if (id === undefined) {
        const { data } = await callApi<{ items: OtaCampaignDto[] }>(target, "GET", "/api/v1/ota/campaigns");
        out(data.items, () =>
          data.items.length === 0
            ? "No campaigns."
            : printTable(
                data.items.map((c) => ({
                  ...c,
                  installed: c.counts.installed,
                  failed: c.counts.failed,
                  wave: `${c.wave + 1}/${c.waves}`,
                })),
                ["id", "name", "artifact", "state", "wave", "devices", "installed", "failed", "updatedAt"],
              ),
        );
        return;
      }
      const { data } = await callApi<OtaCampaignDto>(target, "GET", `/api/v1/ota/campaigns/${encodeURIComponent(id)}`);
      if (o.devices !== true) {
        out(data, () => campaignSummary(data));
        return;
      }
      const devices = await callApi<{ items: OtaCampaignDeviceDto[] }>(
        target,
        "GET",
        `/api/v1/ota/campaigns/${encodeURIComponent(id)}/devices`,
      );
      out(
        { ...data, targets: devices.data.items },
        () =>
          `${campaignSummary(data)}\n\n${printTable(devices.data.items, ["device", "wave", "state", "fromVersion", "reason", "updatedAt"])}`,
      );
    });
}
