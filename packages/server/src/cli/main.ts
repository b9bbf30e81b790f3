#!/usr/bin/env node
import { Command, Option } from "commander";
import { readFile } from "node:fs/promises";
import { resolve, join } from "node:path";
import { stringify as toYaml } from "yaml";
import type {
  DeviceListResponse,
  DeviceDto,
  RecoveryCodesResponse,
  StatusResponse,
  TokenResponse,
  TotpEnrollResponse,
  WhoAmIResponse,
} from "@vigil/contract";
import { DAEMON_INFO_FILE, Platform, VERSION, loadConfig, redactedConfig, settings, type DaemonInfo } from "../app/index.js";
import { VigilError, isVigilError } from "../core/index.js";
import { registerAssessmentCommands } from "./assessment-commands.js";
import { registerAuditCommands } from "./audit-commands.js";
import { registerIdentityCommands } from "./identity-commands.js";
import { registerIncidentCommands } from "./incident-commands.js";
import { registerLegacyCommands } from "./legacy-commands.js";
import { ApiError, callApi, type ApiTarget } from "./client.js";
import { readToken, saveToken } from "./credentials.js";
import { registerNetCommands } from "./net-commands.js";
import { deviceTrust, formatTrust, registerTrustCommands } from "./trust-commands.js";
import { registerOperatorCommands } from "./operator-commands.js";
import { registerOtaCommands } from "./ota-commands.js";
import { printPairs, printTable } from "./output.js";
import { readSecret } from "./prompt.js";
import { registerSimulateCommands } from "./simulate-commands.js";

interface GlobalOptions {
  dataDir?: string;
  server?: string;
  caFile?: string;
  json?: boolean;
}

const program = new Command()
  .name("vigil")
  .description("Vigil: IoT security platform. `vigil up` starts it; other commands talk to a running Vigil.")
  .version(VERSION)
  .showHelpAfterError()
  .option("--server <url>", "URL of a running Vigil API (default: the one recorded in --data-dir)")
  .option("--ca-file <file>", "CA certificate to trust for --server")
  .option("--json", "print JSON instead of tables")
  // Usage errors exit 2, like configuration errors; help and --version exit 0.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

/** Adds one option per configuration setting (derived from the schema). */
function withConfigFlags(command: Command): Command {
  command.option("--config <file>", "configuration file (YAML or JSON)");
  for (const s of settings) {
    const option =
      s.type === "boolean"
        ? new Option(`--${s.flag}`, s.description)
        : new Option(`--${s.flag} <${s.type === "string" ? "value" : s.type}>`, s.description);
    // Values (choices included) are checked by the config schema, so that every problem is reported at once.
    command.addOption(option);
  }
  return command;
}

function flagValues(options: Record<string, unknown>): Record<string, string | boolean | undefined> {
  const out: Record<string, string | boolean | undefined> = {};
  for (const s of settings) {
    const key = s.flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const value = options[key];
    if (typeof value === "string" || typeof value === "boolean") out[s.flag] = value;
  }
  return out;
}

withConfigFlags(
  program
    .command("up")
    .description("Start Vigil on this machine (API, store, services) and run until stopped.")
    .option("--role <role>", "cluster role of this node: all, gateway or control (same as --cluster-role)"),
).action(async (options: Record<string, unknown>) => {
  const flags = flagValues(options);
  if (typeof options.role === "string") flags["cluster-role"] = options.role;
  const config = await loadConfig({ file: options.config as string | undefined, flags });
  // Everything Vigil writes (database, keys, state) is private to its user.
  process.umask(0o077);
  const platform = new Platform({
    config,
    onInitialPassword: ({ username, password, file }) => {
      process.stderr.write(
        [
          "",
          "  ================================================================",
          `  First start: operator "${username}" was created.`,
          `  One-time password: ${password}`,
          `  (also in ${file}, mode 0600, removed once you change it)`,
          "  Log in with `vigil login` and choose your own password.",
          "  ================================================================",
          "",
        ].join("\n") + "\n",
      );
    },
  });
  let stopping = false;
  const shutdown = (reason: string, code: number) => {
    if (stopping) {
      process.stderr.write("second signal: exiting at once\n");
      process.exit(130);
    }
    stopping = true;
    platform
      .stop(reason)
      .then(() => {
        platform.log.info({ reason }, "Vigil stopped");
        platform.log.flush();
        process.exitCode = code;
      })
      .catch((error: unknown) => {
        process.stderr.write(`error while stopping: ${(error as Error).message}\n`);
        process.exitCode = 1;
      });
  };
  process.on("SIGINT", () => shutdown("SIGINT", 0));
  process.on("SIGTERM", () => shutdown("SIGTERM", 0));
  await platform.start();
  process.stderr.write(
    [
      `Vigil ${VERSION} is ready`,
      `  API       ${platform.url}   (OpenAPI: ${platform.url}/docs)`,
      ...(config.http.plain
        ? []
        : [`  CA        ${platform.caFile}`, `  Check     curl --cacert ${platform.caFile} ${platform.url}/readyz`]),
      `  Data dir  ${config.dataDir}`,
      "",
    ].join("\n"),
  );
});

const configCommand = program.command("config").description("Inspect the configuration.");
withConfigFlags(
  configCommand
    .command("print")
    .description("Print the effective configuration (file -> VIGIL_* env -> flags), secrets redacted."),
).action(async (options: Record<string, unknown>) => {
  const config = await loadConfig({ file: options.config as string | undefined, flags: flagValues(options) });
  const shown = redactedConfig(config);
  process.stdout.write(globals().json ? `${JSON.stringify(shown, null, 2)}\n` : toYaml(shown));
});

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

/** Finds the API: --server/--ca-file, else `<data-dir>/daemon.json` (default ./vigil-data). */
async function target(dataDirOption?: string): Promise<ApiTarget> {
  const g = globals();
  if (g.server !== undefined) {
    const ca = g.caFile !== undefined ? await readFile(g.caFile, "utf8") : undefined;
    return { url: g.server.replace(/\/$/, ""), ca, token: (await readToken(g.server.replace(/\/$/, "")))?.token };
  }
  const dataDir = resolve(dataDirOption ?? process.env.VIGIL_DATA_DIR ?? "./vigil-data");
  let info: DaemonInfo;
  try {
    info = JSON.parse(await readFile(join(dataDir, DAEMON_INFO_FILE), "utf8")) as DaemonInfo;
  } catch {
    throw new VigilError("CLI_DAEMON_NOT_FOUND", `no running Vigil recorded in ${dataDir}`, {
      hint: "Start one with `vigil up`, pass its --data-dir, or give --server URL --ca-file FILE.",
    });
  }
  const ca = info.caFile ? await readFile(g.caFile ?? info.caFile, "utf8") : undefined;
  return { url: info.url, ca, token: (await readToken(info.url))?.token };
}

function authed(t: ApiTarget): ApiTarget {
  if (t.token === undefined) {
    throw new VigilError("CLI_NOT_LOGGED_IN", `not logged in to ${t.url}`, { hint: "Run `vigil login` first." });
  }
  return t;
}

function out(value: unknown, human: () => string): void {
  process.stdout.write(`${globals().json ? JSON.stringify(value, null, 2) : human()}\n`);
}

const dataDirOption = () => new Option("--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)");

program
  .command("login")
  .description(
    "Log in as an operator and keep an API token for the CLI. The first login also changes the one-time password and enrols TOTP (it prints the otpauth URI and asks for the first code).",
  )
  .addOption(dataDirOption())
  .option("-u, --username <name>", "operator name", "admin")
  .option("--password-file <file>", "read the password from this file instead of asking")
  .option("--new-password-file <file>", "new password, when the one-time password must be changed")
  .option("--totp-code <code>", "the current code of your authenticator app (asked for when needed)")
  .option("--recovery-code-file <file>", "log in with a recovery code (read from this file) instead of a TOTP code")
  .option("--scopes <list>", "comma-separated scopes to ask for (read,write,admin)")
  .option("--ttl <seconds>", "token lifetime in seconds")
  .action(
    async (o: {
      dataDir?: string;
      username: string;
      passwordFile?: string;
      newPasswordFile?: string;
      totpCode?: string;
      recoveryCodeFile?: string;
      scopes?: string;
      ttl?: string;
    }) => {
      const t = await target(o.dataDir);
      const password = await readSecret(`Password for ${o.username}: `, o.passwordFile);
      const recoveryCode = o.recoveryCodeFile === undefined ? undefined : await readSecret("", o.recoveryCodeFile);
      const factor = recoveryCode !== undefined ? { recoveryCode } : o.totpCode !== undefined ? { totp: o.totpCode } : {};
      let data: TokenResponse;
      try {
        ({ data } = await callApi<TokenResponse>(t, "POST", "/api/v1/auth/login", {
          username: o.username,
          password,
          ...factor,
          ...(o.scopes ? { scopes: o.scopes.split(",").map((s) => s.trim()) } : {}),
          ...(o.ttl ? { ttlSeconds: Number(o.ttl) } : {}),
        }));
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== "AUTH_MFA_REQUIRED" || error.challenge === undefined) throw error;
        const code = (await readSecret("Code from your authenticator app: ")).trim();
        ({ data } = await callApi<TokenResponse>(t, "POST", "/api/v1/auth/login/mfa", {
          challengeId: error.challenge.id,
          totp: code,
        }));
      }
      const authedTarget = { ...t, token: data.token };
      if (data.mustChangePassword) {
        const newPassword = await readSecret("This is a one-time password. New password (12+ characters): ", o.newPasswordFile);
        await callApi(authedTarget, "POST", "/api/v1/auth/password", { currentPassword: password, newPassword });
      }
      let enrolment: { otpauthUri: string; recoveryCodes: string[] } | undefined;
      if (data.mfaEnrollmentRequired) {
        const { data: enrol } = await callApi<TotpEnrollResponse>(authedTarget, "POST", "/api/v1/auth/mfa/totp");
        // Shown once: the operator adds it to an authenticator app (or makes a QR code of the URI).
        process.stdout.write(
          `Enrol a second factor: add this to your authenticator app (or make a QR code of it):\n  ${enrol.otpauthUri}\n`,
        );
        const code = (await readSecret("Code shown by your authenticator app: ")).trim();
        const { data: confirmed } = await callApi<RecoveryCodesResponse>(authedTarget, "POST", "/api/v1/auth/mfa/totp/confirm", {
          code,
        });
        enrolment = { otpauthUri: enrol.otpauthUri, recoveryCodes: confirmed.recoveryCodes };
      }
      await saveToken(t.url, { token: data.token, operator: data.operator, expiresAt: data.expiresAt });
      out(
        {
          operator: data.operator,
          server: t.url,
          scopes: data.scopes,
          expiresAt: data.expiresAt,
          passwordChanged: data.mustChangePassword,
          ...(enrolment ? { totpEnrolled: true, recoveryCodes: enrolment.recoveryCodes } : {}),
        },
        () =>
          [
            `Logged in to ${t.url} as ${data.operator} (${data.scopes.join(", ")}), token valid until ${data.expiresAt}.`,
            ...(data.mustChangePassword ? ["Password changed."] : []),
            ...(enrolment
              ? [
                  "TOTP enrolled. Recovery codes (each works once; keep them offline, they are not shown again):",
                  ...enrolment.recoveryCodes.map((c) => `  ${c}`),
                ]
              : []),
          ].join("\n"),
      );
    },
  );

program
  .command("logout")
  .description("Revoke the CLI's token and forget it.")
  .addOption(dataDirOption())
  .action(async (o: { dataDir?: string }) => {
    const t = authed(await target(o.dataDir));
    await callApi(t, "POST", "/api/v1/auth/logout");
    await saveToken(t.url, undefined);
    out({ loggedOut: t.url }, () => `Logged out of ${t.url}.`);
  });

program
  .command("whoami")
  .description("Show the operator and token the CLI uses.")
  .addOption(dataDirOption())
  .action(async (o: { dataDir?: string }) => {
    const { data } = await callApi<WhoAmIResponse>(authed(await target(o.dataDir)), "GET", "/api/v1/auth/whoami");
    out(data, () =>
      printPairs([
        ["operator", data.operator],
        ["role", data.role],
        ["sites", data.sites.join(", ")],
        ["scopes", data.scopes.join(", ")],
        ["token", data.tokenId],
        ["expires", data.expiresAt],
      ]),
    );
  });

program
  .command("status")
  .description("Show what the running Vigil is doing.")
  .addOption(dataDirOption())
  .action(async (o: { dataDir?: string }) => {
    const { data } = await callApi<StatusResponse>(authed(await target(o.dataDir)), "GET", "/api/v1/status");
    out(data, () =>
      [
        printPairs([
          ["version", data.version],
          ["up since", `${data.startedAt} (${data.uptimeSeconds} s)`],
          ["data dir", data.dataDir],
          ["store", `${data.store.engine}, schema v${data.store.schemaVersion}`],
          ["devices", data.counts.devices],
          ["operators", data.counts.operators],
        ]),
        "",
        printTable(data.services, ["name", "state"]),
      ].join("\n"),
    );
  });

const devices = program.command("devices").description("Work with the fleet's devices.");
devices
  .command("list")
  .description("List devices.")
  .addOption(dataDirOption())
  .addOption(new Option("--state <state>", "only devices in this state").choices(["pending", "active", "quarantined", "revoked"]))
  .option("--limit <n>", "page size", "100")
  .option("--all", "follow pages until the end")
  .action(async (o: { dataDir?: string; state?: string; limit: string; all?: boolean }) => {
    const t = authed(await target(o.dataDir));
    const items: DeviceDto[] = [];
    let after: string | null = null;
    do {
      const query: URLSearchParams = new URLSearchParams({
        limit: o.limit,
        ...(o.state ? { state: o.state } : {}),
        ...(after ? { after } : {}),
      });
      const { data }: { data: DeviceListResponse } = await callApi<DeviceListResponse>(
        t,
        "GET",
        `/api/v1/devices?${query.toString()}`,
      );
      items.push(...data.items);
      after = data.next;
    } while (o.all && after !== null);
    out(items, () =>
      items.length === 0
        ? "No devices."
        : printTable(
            items.map((d) => ({
              ...d,
              attestation: d.attestationMethod,
              firmware: d.firmwareVersion,
              certificate: d.certificate?.status ?? null,
              certExpires: d.certificate?.notAfter ?? null,
            })),
            ["id", "state", "profile", "attestation", "firmware", "certificate", "certExpires", "lastSeenAt"],
          ),
    );
  });

devices
  .command("show <id>")
  .description("Show one device.")
  .addOption(dataDirOption())
  .action(async (id: string, o: { dataDir?: string }) => {
    const { data } = await callApi<DeviceDto>(
      authed(await target(o.dataDir)),
      "GET",
      `/api/v1/devices/${encodeURIComponent(id)}`,
    );
    const { certificate, ...device } = data;
    // The score's explanation, when the device has one and the caller may see it (human output only).
    const trust = globals().json === true ? undefined : await deviceTrust(authed(await target(o.dataDir)), id);
    out(data, () =>
      [
        printPairs([
          ...Object.entries(device),
          ["certificate", certificate ? `${certificate.serial} (${certificate.status}, until ${certificate.notAfter})` : null],
        ]),
        ...(trust === undefined ? [] : ["", "trust:", formatTrust(trust)]),
      ].join("\n"),
    );
  });

devices
  .command("add <id>")
  .description("Pre-register a device (it stays pending until it enrolls).")
  .addOption(dataDirOption())
  .option("--profile <name>", "device profile")
  .action(async (id: string, o: { dataDir?: string; profile?: string }) => {
    const { data } = await callApi<DeviceDto>(authed(await target(o.dataDir)), "POST", "/api/v1/devices", {
      id,
      ...(o.profile ? { profile: o.profile } : {}),
    });
    out(data, () => `Registered ${data.id} (${data.state}).`);
  });

registerAuditCommands(program, { api: async (dataDir) => authed(await target(dataDir)), json: () => globals().json === true });
registerIdentityCommands(program, {
  api: async (dataDir) => authed(await target(dataDir)),
  json: () => globals().json === true,
  config: (options) => loadConfig({ file: options.config as string | undefined, flags: flagValues(options) }),
  withConfigFlags,
});

registerLegacyCommands(program, { api: async (dataDir) => authed(await target(dataDir)), json: () => globals().json === true });
registerNetCommands(program);
registerTrustCommands(program, { api: async (dataDir) => authed(await target(dataDir)), json: () => globals().json === true });
registerIncidentCommands(program, { api: async (dataDir) => authed(await target(dataDir)), json: () => globals().json === true });
registerAssessmentCommands(program, {
  api: async (dataDir) => authed(await target(dataDir)),
  json: () => globals().json === true,
});
registerOperatorCommands(program, { api: async (dataDir) => authed(await target(dataDir)), json: () => globals().json === true });
registerOtaCommands(program, { api: async (dataDir) => authed(await target(dataDir)), json: () => globals().json === true });
registerSimulateCommands(program, { api: async (dataDir) => authed(await target(dataDir)), json: () => globals().json === true });

/** Exit codes: 0 ok, 1 failure, 2 bad configuration or usage. */
function fail(error: unknown): never {
  if (isVigilError(error)) {
    process.stderr.write(`vigil: ${error.toLine()}\n`);
    process.exit(error.code.startsWith("CONFIG_") ? 2 : 1);
  }
  if (error instanceof ApiError) {
    process.stderr.write(`vigil: ${error.code}: ${error.message}${error.hint ? `\n  -> ${error.hint}` : ""}\n`);
    process.exit(1);
  }
  process.stderr.write(`vigil: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}

program.parseAsync(process.argv).catch(fail);
