import type { Command } from "commander";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CaInfoResponse, CertificateDto, CreateTokensResponse, EnrollmentTokenDto, ManufacturerDto } from "@vigil/contract";
import type { VigilConfig } from "../app/index.js";
import { lockDataDir } from "../app/index.js";
import { VigilError, systemClock } from "../core/index.js";
import { CertificateAuthority, FileMasterKey, SealedFileVault } from "../identity/index.js";
import { callApi, type ApiTarget } from "./client.js";
import { printPairs, printTable } from "./output.js";
import { readSecret } from "./prompt.js";

/** What the identity commands need from the CLI's main file. */
export interface IdentityCliContext {
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
  /** Loads the configuration from the command's config flags (for offline commands on the data dir). */
  config(options: Record<string, unknown>): Promise<VigilConfig>;
  /** Adds the configuration flags to an offline command. */
  withConfigFlags(command: Command): Command;
}

const dataDirOpt = ["--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)"] as const;

export function registerIdentityCommands(program: Command, ctx: IdentityCliContext): void {
  const out = (value: unknown, human: () => string) =>
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : human()}\n`);

  // ---- manufacturers ----
  const manufacturers = program
    .command("manufacturers")
    .description("Manufacturer CAs trusted for factory-certificate (IDevID) enrollment.");
  manufacturers
    .command("add <ca-pem>")
    .description("Register a manufacturer CA; devices with a factory certificate it signed can enroll over mutual TLS.")
    .requiredOption("--name <name>", "manufacturer name")
    .option("--serials <file>", "allowlist: one factory-certificate serial (hex) per line")
    .option(...dataDirOpt)
    .action(async (file: string, o: { name: string; serials?: string; dataDir?: string }) => {
      const serialAllowlist = o.serials
        ? (await readFile(o.serials, "utf8"))
            .split(/\r?\n/)
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
      const { data } = await callApi<ManufacturerDto>(await ctx.api(o.dataDir), "POST", "/api/v1/manufacturers", {
        name: o.name,
        caPem: await readFile(file, "utf8"),
        ...(serialAllowlist ? { serialAllowlist } : {}),
      });
      out(data, () => `Registered manufacturer ${data.name} (${data.id}), CA ${data.caSubject}, SHA-256 ${data.caSha256}.`);
    });
  manufacturers
    .command("list")
    .description("List manufacturer CAs.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<{ items: ManufacturerDto[] }>(await ctx.api(o.dataDir), "GET", "/api/v1/manufacturers");
      out(data.items, () =>
        data.items.length === 0
          ? "No manufacturers."
          : printTable(
              data.items.map((m) => ({
                ...m,
                state: m.revokedAt ? "revoked" : "trusted",
                serials: m.serialAllowlist ? m.serialAllowlist.length : "any",
              })),
              ["id", "name", "state", "caSubject", "caNotAfter", "serials"],
            ),
      );
    });
  manufacturers
    .command("revoke <id>")
    .description("Stop trusting a manufacturer CA for enrollment.")
    .option(...dataDirOpt)
    .action(async (id: string, o: { dataDir?: string }) => {
      const { data } = await callApi<ManufacturerDto>(
        await ctx.api(o.dataDir),
        "POST",
        `/api/v1/manufacturers/${encodeURIComponent(id)}/revoke`,
      );
      out(data, () => `Revoked manufacturer ${data.name} (${data.id}).`);
    });

  // ---- claim tokens ----
  const tokens = program.command("tokens").description("One-time claim tokens for devices without a factory certificate.");
  tokens
    .command("create")
    .description("Create one-time, expiring claim tokens bound to a profile (printed once, stored hashed).")
    .requiredOption("--profile <id>", "device profile the enrolled device gets")
    .option("--ttl <duration>", "lifetime: seconds, or with a unit (90s, 30m, 1h, 7d)", "1h")
    .option("--count <n>", "how many tokens", "1")
    .option("--device <id>", "bind the token to this device id (count must be 1)")
    .option(...dataDirOpt)
    .action(async (o: { profile: string; ttl: string; count: string; device?: string; dataDir?: string }) => {
      const { data } = await callApi<CreateTokensResponse>(await ctx.api(o.dataDir), "POST", "/api/v1/enrollment-tokens", {
        profile: o.profile,
        ttlSeconds: parseDuration(o.ttl),
        count: Number(o.count),
        ...(o.device ? { deviceId: o.device } : {}),
      });
      out(data, () =>
        [
          ...data.tokens,
          `# ${data.tokens.length} token(s) for profile ${data.profile}${data.deviceId ? `, device ${data.deviceId}` : ""}, valid until ${data.expiresAt}`,
        ].join("\n"),
      );
    });
  tokens
    .command("list")
    .description("List claim tokens (never their secrets).")
    .option("--all", "include used tokens")
    .option(...dataDirOpt)
    .action(async (o: { all?: boolean; dataDir?: string }) => {
      const { data } = await callApi<{ items: EnrollmentTokenDto[] }>(
        await ctx.api(o.dataDir),
        "GET",
        `/api/v1/enrollment-tokens?includeUsed=${o.all === true}`,
      );
      out(data.items, () =>
        data.items.length === 0
          ? "No tokens."
          : printTable(data.items, ["id", "profile", "deviceId", "expiresAt", "usedAt", "usedByDevice", "createdBy"]),
      );
    });

  // ---- devices: pre-registration, revocation, certificates ----
  const devices = program.commands.find((c) => c.name() === "devices");
  if (devices === undefined) throw new Error("the devices command must be registered first");
  devices
    .command("import <csv>")
    .description(
      "Pre-register devices from CSV lines `device_id,public_key_sha256[,profile]`; only a CSR with that key enrolls. All rows or none.",
    )
    .option(...dataDirOpt)
    .action(async (file: string, o: { dataDir?: string }) => {
      const { data } = await callApi<{ imported: number }>(await ctx.api(o.dataDir), "POST", "/api/v1/devices/import", {
        csv: await readFile(file, "utf8"),
      });
      out(data, () => `Pre-registered ${data.imported} device(s).`);
    });
  devices
    .command("revoke <id>")
    .description("Revoke a device and all its certificates; its live sessions are cut at once.")
    .option(
      "--reason <reason>",
      "unspecified | keyCompromise | cessationOfOperation | superseded | affiliationChanged",
      "unspecified",
    )
    .option(...dataDirOpt)
    .action(async (id: string, o: { reason: string; dataDir?: string }) => {
      const { data } = await callApi<{ device: string; revokedSerials: string[] }>(
        await ctx.api(o.dataDir),
        "POST",
        `/api/v1/devices/${encodeURIComponent(id)}/revoke`,
        {
          reason: o.reason,
        },
      );
      out(data, () => `Revoked ${data.device} and ${data.revokedSerials.length} certificate(s).`);
    });
  devices
    .command("certs <id>")
    .description("Every certificate issued to a device, newest first.")
    .option(...dataDirOpt)
    .action(async (id: string, o: { dataDir?: string }) => {
      const { data } = await callApi<{ items: CertificateDto[] }>(
        await ctx.api(o.dataDir),
        "GET",
        `/api/v1/devices/${encodeURIComponent(id)}/certificates`,
      );
      out(data.items, () =>
        data.items.length === 0
          ? "No certificates."
          : printTable(data.items, ["serial", "status", "notBefore", "notAfter", "revokedAt", "revocationReason"]),
      );
    });

  // ---- the CA ----
  const ca = program.command("ca").description("Vigil's certificate authority.");
  ca.command("show")
    .description("Show the root and issuing CA.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<CaInfoResponse>(await ctx.api(o.dataDir), "GET", "/api/v1/ca");
      out(data, () =>
        printPairs([
          ["root", data.root.subject],
          ["root sha256", data.root.sha256],
          ["root expires", data.root.notAfter],
          ["root key", data.root.keyInDataDir ? "in the data directory (sealed)" : "not here (kept offline)"],
          ["issuing", data.issuing.subject],
          ["issuing sha256", data.issuing.sha256],
          ["issuing expires", data.issuing.notAfter],
          ["device certs", `${data.deviceCertValidityDays} days`],
        ]),
      );
    });
  ctx
    .withConfigFlags(
      ca
        .command("export-root")
        .description(
          "Write the root CA key, encrypted with a passphrase (PKCS#8, AES-256), for offline keeping; --remove then deletes it here.",
        )
        .requiredOption("--out <file>", "where to write the encrypted key (created 0600)")
        .option("--passphrase-file <file>", "read the passphrase from this file instead of asking")
        .option("--remove", "remove the root key from the data directory after writing it"),
    )
    .action(async (o: Record<string, unknown>) => {
      const config = await ctx.config(o);
      const vault = new SealedFileVault(
        join(config.dataDir, "keys"),
        await FileMasterKey.open(config.keys.masterKeyFile ?? join(config.dataDir, "keys", "master.key"), { create: false }),
      );
      const authority = await CertificateAuthority.open(join(config.dataDir, "pki"), vault, systemClock, silentLog);
      const passphrase = await readSecret("Passphrase for the exported root key: ", o.passphraseFile as string | undefined);
      if (passphrase.length < 12)
        throw new VigilError("OPERATOR_PASSWORD_WEAK", "the passphrase must have at least 12 characters", {
          hint: "Choose a long passphrase and keep it apart from the key.",
        });
      await writeFile(o.out as string, await authority.exportRootKey(passphrase), { mode: 0o600, flag: "wx" });
      if (o.remove === true) await authority.removeRootKey();
      out(
        { out: o.out, removed: o.remove === true },
        () =>
          `Root CA key written to ${String(o.out)} (encrypted).${o.remove === true ? " It was removed from the data directory." : ""}`,
      );
    });
  ctx
    .withConfigFlags(
      ca
        .command("import")
        .description("Bring your own issuing CA (Vigil must be stopped): its certificate, key, and the chain up to its root.")
        .requiredOption("--cert <file>", "issuing CA certificate (PEM)")
        .requiredOption("--key <file>", "its private key (PEM, unencrypted; it is sealed on import)")
        .option("--chain <file>", "the certificates above it up to the root (PEM); not needed for a self-signed CA"),
    )
    .action(async (o: Record<string, unknown>) => {
      const config = await ctx.config(o);
      const lock = lockDataDir(config.dataDir);
      try {
        const vault = new SealedFileVault(
          join(config.dataDir, "keys"),
          await FileMasterKey.open(config.keys.masterKeyFile ?? join(config.dataDir, "keys", "master.key"), {
            create: config.keys.masterKeyFile === undefined,
          }),
        );
        const result = await CertificateAuthority.importIssuing(join(config.dataDir, "pki"), vault, systemClock, {
          certPem: await readFile(o.cert as string, "utf8"),
          keyPem: await readFile(o.key as string, "utf8"),
          ...(o.chain ? { chainPem: await readFile(o.chain as string, "utf8") } : {}),
        });
        out(
          result,
          () =>
            `Imported issuing CA ${result.subject.replace(/\n/g, ", ")} (${result.fingerprint}). Start Vigil to use it; the API certificate is reissued from it.`,
        );
      } finally {
        lock.release();
      }
    });
}

const silentLog = { info: () => undefined } as unknown as Parameters<typeof CertificateAuthority.open>[3];

export function parseDuration(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (match === null)
    throw new VigilError("REQUEST_INVALID", `cannot read the duration ${JSON.stringify(text)}`, {
      hint: "Use seconds or a number with s, m, h or d: 90s, 30m, 1h, 7d.",
    });
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as "s" | "m" | "h" | "d"] ?? 1;
  return Number(match[1]) * unit;
}
