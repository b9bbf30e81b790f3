import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { VigilError } from "../core/index.js";
import { MQTT_DEFAULTS, mqttConfigSchema } from "../gateway/index.js";
import { TRUST_DEFAULTS, trustConfigSchema } from "../trust/index.js";
import { OTA_DEFAULTS, otaConfigSchema } from "../ota/index.js";
import { ASSESSMENT_DEFAULTS, assessmentConfigSchema } from "../assessment/index.js";
import { DETECTION_DEFAULTS, detectionConfigSchema } from "../detection/index.js";
import { RESPONSE_DEFAULTS, responseConfigSchema } from "../response/index.js";
import { CLUSTER_DEFAULTS, clusterConfigSchema } from "../cluster/index.js";
import { redactPostgresUrl } from "../store/index.js";

/**
 * The whole configuration, validated once (STYLE habit 4). Each section belongs to one
 * module. Secrets are given as file paths, never inline. Every leaf is also settable as
 * `VIGIL_<PATH>` in the environment and as `--<path>` on the command line, in that order
 * of precedence over the file; the names are derived from the leaf's path.
 */
export const configSchema = z
  .object({
    dataDir: z.string().min(1).default("./vigil-data").describe("Directory for the database, keys and state; created 0700."),
    http: z
      .object({
        host: z.string().min(1).default("127.0.0.1").describe("Address the HTTPS API binds (use 0.0.0.0 to serve other hosts)."),
        port: z.number().int().min(0).max(65535).default(8443).describe("TCP port of the HTTPS API (0 picks a free port)."),
        plain: z
          .boolean()
          .default(false)
          .describe("Serve plain HTTP instead of HTTPS. Refused unless the host is a loopback address."),
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024)
          .describe("Largest request body accepted; larger bodies get 413 REQUEST_TOO_LARGE."),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 8443, plain: false, bodyLimitBytes: 1024 * 1024 }),
    tls: z
      .object({
        cert: z.string().min(1).optional().describe("PEM certificate chain for the API (your own). Vigil makes one when absent."),
        key: z.string().min(1).optional().describe("Path of the PEM private key matching tls.cert.").meta({ secret: true }),
        ca: z.string().min(1).optional().describe("PEM of the CA clients should trust for tls.cert (recorded for the CLI)."),
      })
      .strict()
      .default({}),
    log: z
      .object({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").describe("Log level."),
      })
      .strict()
      .default({ level: "info" }),
    auth: z
      .object({
        tokenTtlSeconds: z
          .number()
          .int()
          .min(60)
          .max(30 * 24 * 3600)
          .default(12 * 3600)
          .describe("Lifetime of an API token issued by `vigil login` unless it asks for less."),
        sessionTtlSeconds: z
          .number()
          .int()
          .min(60)
          .max(24 * 3600)
          .default(8 * 3600)
          .describe("Absolute lifetime of a console session (cookie)."),
        sessionIdleSeconds: z
          .number()
          .int()
          .min(60)
          .max(24 * 3600)
          .default(30 * 60)
          .describe("A console session ends after this long without a request."),
        mfaChallengeSeconds: z
          .number()
          .int()
          .min(30)
          .max(900)
          .default(300)
          .describe("How long a login challenge waits for its second factor."),
        requireMfaForAuditors: z
          .boolean()
          .default(false)
          .describe(
            "Also require a second factor for the read-only auditor role (every other role always needs one). An auditor who enrolled one must use it either way.",
          ),
        lockoutThreshold: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(5)
          .describe("Failed logins for one operator name before it is locked (a source address gets three times as many)."),
        lockoutBaseSeconds: z
          .number()
          .int()
          .min(1)
          .max(3600)
          .default(30)
          .describe("The first lock; every further failure doubles it."),
        lockoutMaxSeconds: z
          .number()
          .int()
          .min(1)
          .max(24 * 3600)
          .default(900)
          .describe("The longest lock."),
        webauthnRpId: z
          .string()
          .min(1)
          .optional()
          .describe(
            "WebAuthn relying-party id (the console's domain). Default: the API host, or localhost on a loopback address.",
          ),
        webauthnOrigin: z
          .string()
          .url()
          .optional()
          .describe("Origin the console is served from, checked in WebAuthn responses. Default: the API's own URL."),
      })
      .strict()
      .default({
        tokenTtlSeconds: 12 * 3600,
        sessionTtlSeconds: 8 * 3600,
        sessionIdleSeconds: 30 * 60,
        mfaChallengeSeconds: 300,
        requireMfaForAuditors: false,
        lockoutThreshold: 5,
        lockoutBaseSeconds: 30,
        lockoutMaxSeconds: 900,
      }),
    store: z
      .object({
        engine: z
          .enum(["sqlite", "postgres"])
          .default("sqlite")
          .describe(
            "Where state lives. sqlite: one file in the data directory (one node). postgres: a PostgreSQL database given by store.url, shared by every node of a cluster (docs/store.md).",
          ),
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
          .optional()
          .describe(
            "PostgreSQL connection URL (postgres://user@host:5432/database) when store.engine is postgres. A password in it is redacted everywhere Vigil prints it; prefer store.passwordFile.",
          ),
        passwordFile: z
          .string()
          .min(1)
          .optional()
          .describe("File holding the PostgreSQL password (one line); overrides a password in store.url.")
          .meta({ secret: true }),
        synchronous: z
          .enum(["normal", "full"])
          .default("normal")
          .describe(
            "SQLite durability. normal: every acknowledged write survives a crash or kill -9 of Vigil; after a power cut the last moments of writes may roll back. full: every commit is fsynced (survives power loss) at a measured cost in throughput.",
          ),
      })
      .strict()
      .default({ engine: "sqlite", synchronous: "normal" }),
    pki: z
      .object({
        deviceCertValidityDays: z
          .number()
          .int()
          .min(1)
          .max(825)
          .default(30)
          .describe("Lifetime of a device certificate; devices renew before it ends (simplereenroll)."),
      })
      .strict()
      .default({ deviceCertValidityDays: 30 }),
    keys: z
      .object({
        masterKeyFile: z
          .string()
          .min(1)
          .optional()
          .describe(
            "File holding the 32-byte master key that seals every private key at rest. Default: <dataDir>/keys/master.key, created on first start; keep it elsewhere to make a copy of the data directory useless.",
          ),
      })
      .strict()
      .default({}),
    audit: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe("Record every signal in the hash-chained audit log. Turn it off only for benchmarks."),
        checkpointEvery: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(1000)
          .describe("Sign a checkpoint of the audit chain (Ed25519) every this many entries, and on every clean stop."),
      })
      .strict()
      .default({ enabled: true, checkpointEvery: 1000 }),
    mqtt: mqttConfigSchema.default(MQTT_DEFAULTS),
    ota: otaConfigSchema.default(OTA_DEFAULTS),
    trust: trustConfigSchema.default(TRUST_DEFAULTS),
    assessment: assessmentConfigSchema.default(ASSESSMENT_DEFAULTS),
    detection: detectionConfigSchema.default(DETECTION_DEFAULTS),
    response: responseConfigSchema.default(RESPONSE_DEFAULTS),
    cluster: clusterConfigSchema.default(CLUSTER_DEFAULTS),
  })
  .strict();

export type VigilConfig = Readonly<z.infer<typeof configSchema>>;

export interface Setting {
  readonly path: readonly string[];
  readonly env: string;
  readonly flag: string;
  readonly type: "string" | "integer" | "number" | "boolean";
  readonly description: string;
  readonly default: unknown;
  readonly choices: readonly string[] | undefined;
  readonly secret: boolean;
}

interface JsonSchemaNode {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  description?: string;
  default?: unknown;
  enum?: string[];
  secret?: boolean;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Every leaf setting, derived from the schema: the single source for env, flags and docs. */
export const settings: readonly Setting[] = (() => {
  const out: Setting[] = [];
  const walk = (node: JsonSchemaNode, path: string[]) => {
    if (node.type === "object" && node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, [...path, key]);
      return;
    }
    const flag = path.map(kebab).join("-");
    out.push({
      path,
      env: `VIGIL_${flag.replace(/-/g, "_").toUpperCase()}`,
      flag,
      type: (node.type ?? "string") as Setting["type"],
      description: node.description ?? "",
      default: node.default,
      choices: node.enum,
      secret: node.secret === true,
    });
  };
  walk(z.toJSONSchema(configSchema, { io: "input" }) as JsonSchemaNode, []);
  return out;
})();

export interface ConfigSources {
  /** Explicit config file; otherwise `./vigil.yaml`, `./vigil.yml` or `./vigil.json` when present. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Flag values by setting flag name (`http-port`), as strings or booleans from the CLI parser. */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
  readonly cwd?: string;
}

/** Loads file -> env -> flags, validates once, reports every problem at once, freezes. */
export async function loadConfig(sources: ConfigSources = {}): Promise<VigilConfig> {
  const cwd = sources.cwd ?? process.cwd();
  const problems: string[] = [];
  const merged: Record<string, unknown> = {};

  const file = sources.file ?? ["vigil.yaml", "vigil.yml", "vigil.json"].map((f) => resolve(cwd, f)).find((f) => existsSync(f));
  if (file !== undefined) {
    const fromFile = await readConfigFile(resolve(cwd, file));
    deepAssign(merged, fromFile);
  }

  const env = sources.env ?? process.env;
  const byEnv = new Map(settings.map((s) => [s.env, s]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith("VIGIL_") || raw === undefined) continue;
    const setting = byEnv.get(name);
    if (setting === undefined) {
      problems.push(`${name}: unknown environment setting (known: ${[...byEnv.keys()].join(", ")})`);
      continue;
    }
    setPath(merged, setting.path, coerce(setting, raw));
  }

  const byFlag = new Map(settings.map((s) => [s.flag, s]));
  for (const [flag, raw] of Object.entries(sources.flags ?? {})) {
    if (raw === undefined) continue;
    const setting = byFlag.get(flag);
    if (setting === undefined) {
      problems.push(`--${flag}: unknown option`);
      continue;
    }
    setPath(merged, setting.path, typeof raw === "boolean" ? raw : coerce(setting, raw));
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = issue.path.join(".") || "(root)";
      const setting = settings.find((s) => s.path.join(".") === where);
      const also = setting ? ` (file key ${where}, env ${setting.env}, flag --${setting.flag})` : "";
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) problems.push(`${[...issue.path, key].join(".")}: unknown key`);
      } else {
        problems.push(`${where}: ${issue.message}${also}`);
      }
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new VigilError(
      "CONFIG_INVALID",
      `the configuration has ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`,
      {
        hint: "Fix the values above; `docs/config.md` lists every setting.",
        details: { problems },
      },
    );
  }
  const config = { ...parsed.data, dataDir: resolve(cwd, parsed.data.dataDir) };
  if (config.tls.cert !== undefined) config.tls = { ...config.tls, cert: resolve(cwd, config.tls.cert) };
  if (config.tls.key !== undefined) config.tls = { ...config.tls, key: resolve(cwd, config.tls.key) };
  if (config.tls.ca !== undefined) config.tls = { ...config.tls, ca: resolve(cwd, config.tls.ca) };
  if (config.keys.masterKeyFile !== undefined) config.keys = { masterKeyFile: resolve(cwd, config.keys.masterKeyFile) };
  if (config.store.passwordFile !== undefined)
    config.store = { ...config.store, passwordFile: resolve(cwd, config.store.passwordFile) };
  if (config.store.engine === "postgres" && config.store.url === undefined) {
    throw new VigilError(
      "CONFIG_INVALID",
      "the configuration has 1 problem(s):\n  - store.engine is postgres but store.url is not set",
      {
        hint: "Give the database with --store-url or VIGIL_STORE_URL (postgres://user@host:5432/database).",
      },
    );
  }
  if ((config.tls.cert === undefined) !== (config.tls.key === undefined)) {
    throw new VigilError(
      "CONFIG_INVALID",
      "the configuration has 1 problem(s):\n  - tls.cert and tls.key must be given together",
      {
        hint: "Give both --tls-cert and --tls-key, or neither to let Vigil make its own certificate.",
      },
    );
  }
  return deepFreeze(config);
}

async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new VigilError(
      "CONFIG_FILE_UNREADABLE",
      `cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        cause: error,
        hint: "Check the path given to --config.",
      },
    );
  }
  try {
    const value: unknown = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
    if (value === null || value === undefined) return {};
    if (typeof value !== "object" || Array.isArray(value)) throw new Error("the top level must be a mapping of settings");
    return value;
  } catch (error) {
    throw new VigilError(
      "CONFIG_FILE_UNREADABLE",
      `cannot parse config file ${file}: ${(error as Error).message.split("\n")[0]}`,
      {
        cause: error,
        hint: "The file must be YAML (or JSON for .json) with a mapping at the top level.",
      },
    );
  }
}

function coerce(setting: Setting, raw: string): unknown {
  switch (setting.type) {
    case "integer":
    case "number": {
      const n = Number(raw);
      return raw.trim() === "" || Number.isNaN(n) ? raw : n;
    }
    case "boolean":
      if (/^(true|1|yes|on)$/i.test(raw)) return true;
      if (/^(false|0|no|off)$/i.test(raw)) return false;
      return raw;
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function deepAssign(target: Record<string, unknown>, source: unknown): void {
  if (typeof source !== "object" || source === null) return;
  for (const [key, value] of Object.entries(source)) {
    if (key === "__proto__" || key === "constructor" || key === "prototype") continue;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const existing = target[key];
      const child = typeof existing === "object" && existing !== null ? (existing as Record<string, unknown>) : {};
      deepAssign(child, value);
      target[key] = child;
    } else {
      target[key] = value;
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The effective config for `vigil config print`, with secret settings redacted. */
export function redactedConfig(config: VigilConfig): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const setting of settings) {
    if (!setting.secret) continue;
    let node: Record<string, unknown> | undefined = copy;
    for (const key of setting.path.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    const leaf = setting.path[setting.path.length - 1] as string;
    if (node && node[leaf] !== undefined) node[leaf] = "[redacted]";
  }
  const store = copy["store"] as { url?: string } | undefined;
  if (store?.url !== undefined) store.url = redactPostgresUrl(store.url);
  return copy;
}

/** docs/config.md, generated from the schema so that the two cannot drift. */
export function renderConfigDoc(): string {
  const rows = settings.map(
    (s) =>
      `| \`${s.path.join(".")}\` | \`${s.env}\` | \`--${s.flag}\` | ${s.choices ? s.choices.map((c) => `\`${c}\``).join(" / ") : s.type} | ${
        s.default === undefined ? "—" : `\`${JSON.stringify(s.default)}\``
      } | ${s.description}${s.secret ? " (redacted by `vigil config print`)" : ""} |`,
  );
  return [
    "# Configuration",
    "",
    "<!-- Generated from packages/server/src/app/config.ts by `npm run docs:config`; a test fails when this file is stale. -->",
    "",
    "Vigil reads its configuration once at start, in this order, each overriding the one before:",
    "",
    "1. a file: `--config FILE`, or `vigil.yaml` / `vigil.yml` / `vigil.json` in the working directory;",
    "2. environment variables `VIGIL_*`;",
    "3. command-line flags.",
    "",
    "Every problem is reported at once (unknown keys and unknown `VIGIL_*` variables included), and",
    "Vigil refuses to start until they are fixed. `vigil config print` shows the effective",
    "configuration with secrets redacted. Secrets are always given as file paths, never inline.",
    "",
    "| key | environment | flag | type | default | meaning |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    "Example `vigil.yaml`:",
    "",
    "```yaml",
    "dataDir: /var/lib/vigil",
    "http:",
    "  host: 0.0.0.0",
    "  port: 8443",
    "log:",
    "  level: info",
    "```",
    "",
  ].join("\n");
}
