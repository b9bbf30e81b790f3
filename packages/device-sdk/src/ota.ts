import {
  OtaCommand,
  OtaMetadataBundle,
  OtaSignedRoot,
  canonicalJson,
  compareVersions,
  isSemver,
  type OtaFailureReason,
  type OtaKeyType,
  type OtaReport,
  type OtaRootSigned,
  type OtaSignedTargets,
  type OtaTargetInfo,
} from "@vigil/contract";
import { createHash, createPublicKey, verify } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { isIP } from "node:net";
import { join } from "node:path";
import type { DeviceConnection } from "./connect.js";
import { loadCredentials, type DeviceCredentials } from "./enroll.js";

/**
 * The device side of Vigil's signed updates. Before anything is installed the agent checks,
 * in this order (TUF spec 1.0 §5, client workflow):
 * 1. every new root version is signed by a threshold of the previous root's keys *and* of
 *    its own (§5.3.4), versions in sequence, the last one not expired: this is how a device
 *    follows a key rotation without being re-provisioned, and stops trusting revoked keys;
 * 2. the targets metadata is signed by the targets keys the root names, not expired, and not
 *    older than the last one this device accepted (freeze and rollback attacks);
 * 3. the image's manifest: the device's profile and hardware, a version above the one it
 *    runs, its minimum version, the anti-rollback counter;
 * 4. the image: exactly the length and SHA-256 the signed manifest gives (a download is
 *    resumed with an HTTP range after an interruption).
 * Only then does it call the A/B hook: write the inactive slot, boot it and run the boot
 * check; a failed check switches back. Every step is reported on `vigil/{device}/ack`.
 * A refused update leaves the running firmware untouched.
 */

/** The A/B install hook a device implements (MCUboot-style "test" then "confirm"). */
export interface FirmwareSlots {
  /** Writes the verified image to the inactive slot. */
  write(image: Buffer, target: { readonly name: string; readonly version: string }): Promise<void>;
  /** Boots the inactive slot and runs the boot check: true when healthy (the new slot stays active). */
  activate(): Promise<boolean>;
  /** Makes the previous slot active again. */
  revert(): Promise<void>;
}

export interface OtaAgentOptions {
  /** Vigil's HTTPS base URL, e.g. `https://vigil.example:8443`. */
  readonly server: string;
  /** Where `enroll()` stored the device's credentials; the agent keeps its state and partial downloads here. */
  readonly dir: string;
  readonly profile: string;
  readonly hardware: string;
  /** The firmware version running when the agent first starts (later: its saved state). */
  readonly currentVersion: string;
  /**
   * The root metadata the device was provisioned with (the OTA trust anchor). Without it the
   * agent fetches root v1 once, over mutual TLS to the Vigil its CA pins, and keeps it.
   */
  readonly trustedRoot?: OtaSignedRoot;
  readonly slots: FirmwareSlots;
  /** Where reports go; `attach()` sets it to the connection's `ack`. */
  readonly report?: (report: OtaReport) => Promise<void>;
  /** The device's clock (metadata expiry). */
  readonly now?: () => number;
  readonly maxImageBytes?: number;
  /** Download attempts, each resuming where the previous one stopped (default 4). */
  readonly attempts?: number;
  readonly timeoutMs?: number;
}

export interface OtaOutcome {
  readonly ok: boolean;
  readonly state: OtaReport["state"];
  readonly version: string;
  readonly reason?: OtaFailureReason;
}

interface OtaState {
  root: OtaSignedRoot;
  targetsVersion: number;
  version: string;
  /** The anti-rollback counter this device has committed. */
  counter: number;
  /** What the inactive slot holds after an install not yet committed (rollback target). */
  previous: { version: string } | null;
  /** The campaign whose install is active and uncommitted, with its counter. */
  pending: { campaign: string; counter: number } | null;
}

const STATE_FILE = "ota-state.json";
const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/** Why an update was refused, with the reason reported to Vigil. */
export class OtaRefused extends Error {
  readonly reason: OtaFailureReason;
  constructor(reason: OtaFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OtaRefused";
    this.reason = reason;
  }
}

export class OtaAgent {
  readonly #options: OtaAgentOptions;
  readonly #credentials: DeviceCredentials;
  #state: OtaState;
  #report: (report: OtaReport) => Promise<void>;
  #queue: Promise<unknown> = Promise.resolve();
  #running: string | undefined;
  #agent: Agent | undefined;

  private constructor(options: OtaAgentOptions, credentials: DeviceCredentials, state: OtaState) {
    this.#options = options;
    this.#credentials = credentials;
    this.#state = state;
    this.#report = options.report ?? (async () => undefined);
  }

  /** Loads the device's credentials and OTA state (first start: the provisioned or fetched root v1). */
  static async open(options: OtaAgentOptions): Promise<OtaAgent> {
    const credentials = await loadCredentials(options.dir);
    const file = join(options.dir, STATE_FILE);
    let state: OtaState;
    if (existsSync(file)) {
      state = JSON.parse(await readFile(file, "utf8")) as OtaState;
    } else {
      if (!isSemver(options.currentVersion))
        throw new RangeError(`currentVersion ${options.currentVersion} is not a semantic version`);
      const root =
        options.trustedRoot ??
        OtaSignedRoot.parse(JSON.parse((await get(options, credentials, "/ota/v1/root/1", {})).body.toString("utf8")));
      state = { root, targetsVersion: 0, version: options.currentVersion, counter: 0, previous: null, pending: null };
    }
    const agent = new OtaAgent(options, credentials, state);
    await agent.#save();
    return agent;
  }

  /** The firmware version this device runs. */
  get version(): string {
    return this.#state.version;
  }

  /** The root metadata version this device trusts. */
  get rootVersion(): number {
    return this.#state.root.signed.version;
  }

  get counter(): number {
    return this.#state.counter;
  }

  /** Listens to OTA commands on the device's control channel and reports on its ack topic. */
  attach(connection: DeviceConnection): () => void {
    this.#report = (report) => connection.ack(report);
    return connection.onCommand((payload) => {
      void this.handle(payload).catch(() => undefined);
    });
  }

  /** Acts on one command (raw control-channel payload or parsed); other commands are ignored. */
  async handle(input: Buffer | OtaCommand): Promise<OtaOutcome | undefined> {
    let command: OtaCommand;
    if (Buffer.isBuffer(input)) {
      let raw: unknown;
      try {
        raw = JSON.parse(input.toString("utf8"));
      } catch {
        return undefined;
      }
      const parsed = OtaCommand.safeParse(raw);
      if (!parsed.success) return undefined;
      command = parsed.data;
    } else {
      command = input;
    }
    switch (command.op) {
      case "update":
        if (this.#running === command.campaign) return undefined; // a repeated command while at it
        return this.#serial(() => this.update(command.campaign, command.target, command.version));
      case "rollback":
        return this.#serial(() => this.rollback(command.campaign));
      case "commit":
        return this.#serial(() => this.commit(command.campaign));
    }
  }

  /** Verifies and installs target `name` (see the class comment); never throws for a refused update. */
  async update(campaign: string, name: string, expectedVersion?: string): Promise<OtaOutcome> {
    this.#running = campaign;
    // One connection for the metadata and the image (one TLS handshake), reopened if it drops.
    this.#agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const say = (state: OtaReport["state"], extra: Partial<OtaReport> = {}) =>
      this.#send({ type: "ota", campaign, state, version: this.#state.version, ...extra });
    try {
      await say("downloading");
      const target = await this.#verifiedTarget(name, expectedVersion);
      const image = await this.#download(name, target);
      await say("verified");
      await say("installing");
      try {
        await this.#options.slots.write(image, { name, version: target.custom.version });
      } catch (error) {
        throw new OtaRefused("install_failed", `writing the inactive slot failed: ${(error as Error).message}`, { cause: error });
      }
      let healthy = false;
      try {
        healthy = await this.#options.slots.activate();
      } catch {
        healthy = false;
      }
      if (!healthy) {
        await this.#options.slots.revert();
        await say("rolled_back", { reason: "boot_check_failed" });
        return { ok: false, state: "rolled_back", version: this.#state.version, reason: "boot_check_failed" };
      }
      this.#state = {
        ...this.#state,
        previous: { version: this.#state.version },
        version: target.custom.version,
        pending: { campaign, counter: target.custom.counter },
      };
      await this.#save();
      await rm(this.#partFile(target), { force: true });
      await say("installed");
      return { ok: true, state: "installed", version: this.#state.version };
    } catch (error) {
      const reason: OtaFailureReason = error instanceof OtaRefused ? error.reason : "install_failed";
      await say("failed", { reason, detail: (error as Error).message.slice(0, 300) }).catch(() => undefined);
      return { ok: false, state: "failed", version: this.#state.version, reason };
    } finally {
      this.#running = undefined;
      this.#agent?.destroy();
      this.#agent = undefined;
    }
  }

  /** Back to the previous slot, if this campaign installed the running firmware and did not commit it. */
  async rollback(campaign: string): Promise<OtaOutcome> {
    const pending = this.#state.pending;
    if (pending !== null && pending.campaign === campaign && this.#state.previous !== null) {
      await this.#options.slots.revert();
      this.#state = { ...this.#state, version: this.#state.previous.version, previous: null, pending: null };
      await this.#save();
    }
    // Also when nothing was installed: the device runs what it ran before the campaign.
    await this.#send({ type: "ota", campaign, state: "rolled_back", version: this.#state.version, reason: "campaign_rollback" });
    return { ok: true, state: "rolled_back", version: this.#state.version, reason: "campaign_rollback" };
  }

  /** The campaign completed: raise the anti-rollback counter; the previous firmware may no longer run. */
  async commit(campaign: string): Promise<OtaOutcome | undefined> {
    const pending = this.#state.pending;
    if (pending === null || pending.campaign !== campaign) return undefined;
    this.#state = { ...this.#state, counter: Math.max(this.#state.counter, pending.counter), pending: null };
    await this.#save();
    return { ok: true, state: "installed", version: this.#state.version };
  }

  // ---- verification ----

  async #verifiedTarget(name: string, expectedVersion: string | undefined): Promise<OtaTargetInfo> {
    const now = (this.#options.now ?? Date.now)();
    let bundle: OtaMetadataBundle;
    try {
      const { body } = await get(
        this.#options,
        this.#credentials,
        `/ota/v1/metadata?root=${this.#state.root.signed.version}`,
        {},
        this.#agent,
      );
      if (body.length > MAX_METADATA_BYTES) throw new Error("metadata larger than 4 MiB");
      bundle = OtaMetadataBundle.parse(JSON.parse(body.toString("utf8")));
    } catch (error) {
      if (error instanceof OtaRefused) throw error;
      const reason =
        (error as { name?: string }).name === "ZodError" || error instanceof SyntaxError
          ? "metadata_invalid"
          : "metadata_unavailable";
      throw new OtaRefused(reason, `cannot use the OTA metadata: ${(error as Error).message.slice(0, 200)}`, { cause: error });
    }
    const root = updateRoot(this.#state.root, bundle.roots, now);
    checkTargets(root.signed, bundle.targets, now, this.#state.targetsVersion);
    // Trust what verified, even if this particular update is refused below (TUF §5.3.8, §5.5.7).
    this.#state = { ...this.#state, root, targetsVersion: bundle.targets.signed.version };
    await this.#save();
    const target = bundle.targets.signed.targets[name];
    if (target === undefined) throw new OtaRefused("target_unknown", `the signed targets do not list ${name}`);
    const c = target.custom;
    if (expectedVersion !== undefined && expectedVersion !== c.version)
      throw new OtaRefused("metadata_invalid", `the command announced ${expectedVersion}, the signed manifest says ${c.version}`);
    if (c.profile !== this.#options.profile) throw new OtaRefused("wrong_profile", `the image is for profile ${c.profile}`);
    if (c.hardware.length > 0 && !c.hardware.includes(this.#options.hardware))
      throw new OtaRefused("wrong_hardware", `the image runs on ${c.hardware.join(", ")}, not ${this.#options.hardware}`);
    if (compareVersions(c.version, this.#state.version) <= 0)
      throw new OtaRefused("downgrade", `the image is ${c.version}, this device runs ${this.#state.version}`);
    if (c.minVersion !== null && compareVersions(this.#state.version, c.minVersion) < 0)
      throw new OtaRefused("min_version", `the image needs at least ${c.minVersion} installed first`);
    if (c.counter < this.#state.counter)
      throw new OtaRefused("counter_rollback", `the image's security counter ${c.counter} is below ${this.#state.counter}`);
    if (target.length > (this.#options.maxImageBytes ?? 256 * 1024 * 1024))
      throw new OtaRefused("download_failed", `the image (${target.length} bytes) does not fit this device`);
    return target;
  }

  // ---- download ----

  #partFile(target: OtaTargetInfo): string {
    return join(this.#options.dir, "ota", `${target.hashes.sha256}.part`);
  }

  /** Downloads with resumption: each attempt asks for the bytes after those already on disk. */
  async #download(name: string, target: OtaTargetInfo): Promise<Buffer> {
    const part = this.#partFile(target);
    await mkdir(join(this.#options.dir, "ota"), { recursive: true, mode: 0o700 });
    const attempts = this.#options.attempts ?? 4;
    const etag = `"${target.hashes.sha256}"`;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const have = existsSync(part) ? (await stat(part)).size : 0;
      if (have > target.length) {
        await rm(part, { force: true });
        continue;
      }
      if (have === target.length) break;
      try {
        await fetchInto(
          this.#options,
          this.#credentials,
          `/ota/v1/images/${encodeURIComponent(name)}`,
          part,
          have,
          etag,
          target.length,
          this.#agent,
        );
      } catch (error) {
        lastError = error;
        if (error instanceof OtaRefused) throw error;
      }
    }
    const image = existsSync(part) ? await readFile(part) : Buffer.alloc(0);
    if (image.length !== target.length) {
      if (image.length > target.length) await rm(part, { force: true });
      if (image.length < target.length && lastError !== undefined)
        throw new OtaRefused(
          "download_failed",
          `download incomplete after ${attempts} attempts (${image.length} of ${target.length} bytes): ${(lastError as Error).message}`,
        );
      throw new OtaRefused("length_mismatch", `the image has ${image.length} bytes, the signed manifest says ${target.length}`);
    }
    const sha256 = createHash("sha256").update(image).digest("hex");
    if (sha256 !== target.hashes.sha256) {
      await rm(part, { force: true });
      throw new OtaRefused("hash_mismatch", "the image's SHA-256 differs from the signed manifest's");
    }
    return image;
  }

  async #send(report: OtaReport): Promise<void> {
    await this.#report(report);
  }

  async #save(): Promise<void> {
    const file = join(this.#options.dir, STATE_FILE);
    const tmp = `${file}.tmp`;
    await writeFile(tmp, JSON.stringify(this.#state), { mode: 0o600 });
    await rename(tmp, file);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

// ---- TUF checks (pure) ----

function validSignatures(
  signed: unknown,
  signatures: readonly { keyid: string; sig: string }[],
  root: OtaRootSigned,
  keyids: readonly string[],
): number {
  const message = Buffer.from(canonicalJson(signed), "utf8");
  const counted = new Set<string>();
  for (const s of signatures) {
    if (counted.has(s.keyid) || !keyids.includes(s.keyid)) continue;
    const key = root.keys[s.keyid];
    if (key === undefined || !keyMatchesId(key.public, s.keyid)) continue;
    if (verifySignature(key.keytype, key.public, message, s.sig)) counted.add(s.keyid);
  }
  return counted.size;
}

function keyMatchesId(publicPem: string, keyid: string): boolean {
  try {
    return (
      createHash("sha256")
        .update(createPublicKey(publicPem).export({ type: "spki", format: "der" }))
        .digest("hex") === keyid
    );
  } catch {
    return false;
  }
}

function verifySignature(keytype: OtaKeyType, publicPem: string, message: Buffer, sig: string): boolean {
  try {
    const key = createPublicKey(publicPem);
    if (keytype === "ed25519" ? key.asymmetricKeyType !== "ed25519" : key.asymmetricKeyType !== "ec") return false;
    return verify(keytype === "ed25519" ? null : "sha256", message, key, Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}

/** TUF §5.3: walks the new roots; each must be signed by the previous root's keys and by its own. */
export function updateRoot(trusted: OtaSignedRoot, newer: readonly OtaSignedRoot[], now: number): OtaSignedRoot {
  let current = trusted;
  for (const next of newer) {
    if (next.signed.version <= current.signed.version) continue;
    if (next.signed.version !== current.signed.version + 1)
      throw new OtaRefused("metadata_invalid", `root version ${next.signed.version} does not follow ${current.signed.version}`);
    const byOld = validSignatures(next.signed, next.signatures, current.signed, current.signed.roles.root.keyids);
    const byNew = validSignatures(next.signed, next.signatures, next.signed, next.signed.roles.root.keyids);
    if (byOld < current.signed.roles.root.threshold || byNew < next.signed.roles.root.threshold)
      throw new OtaRefused(
        "signature_invalid",
        `root version ${next.signed.version} is not signed by the previous and the new root keys`,
      );
    current = next;
  }
  if (Date.parse(current.signed.expires) <= now)
    throw new OtaRefused("metadata_expired", `root metadata expired at ${current.signed.expires}`);
  return current;
}

/** TUF §5.5: targets signed by the root's targets keys, not expired, not older than the last accepted. */
export function checkTargets(root: OtaRootSigned, targets: OtaSignedTargets, now: number, lastVersion: number): void {
  const valid = validSignatures(targets.signed, targets.signatures, root, root.roles.targets.keyids);
  if (valid < root.roles.targets.threshold)
    throw new OtaRefused("signature_invalid", "the targets metadata is not signed by the targets key the root names");
  if (targets.signed.version < lastVersion)
    throw new OtaRefused(
      "metadata_rollback",
      `targets version ${targets.signed.version} is older than ${lastVersion}, already seen`,
    );
  if (Date.parse(targets.signed.expires) <= now)
    throw new OtaRefused("metadata_expired", `targets metadata expired at ${targets.signed.expires}`);
}

// ---- HTTPS with the device certificate ----

function tlsOptions(options: OtaAgentOptions, credentials: DeviceCredentials) {
  const url = new URL(options.server);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return { key: credentials.keyPem, cert: credentials.certPem, ca: credentials.caPem, servername: isIP(host) === 0 ? host : "" };
}

function get(
  options: OtaAgentOptions,
  credentials: DeviceCredentials,
  path: string,
  headers: Record<string, string>,
  agent?: Agent,
): Promise<{ status: number; body: Buffer }> {
  const url = new URL(path, options.server);
  if (url.protocol !== "https:")
    return Promise.reject(new OtaRefused("metadata_unavailable", "devices fetch updates over HTTPS only"));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ...tlsOptions(options, credentials), agent: agent ?? false, headers, timeout: options.timeoutMs ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_METADATA_BYTES) req.destroy(new Error("response too large"));
          else chunks.push(c);
        });
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          if ((res.statusCode ?? 0) >= 400) reject(new Error(`HTTP ${res.statusCode}: ${body.toString("utf8").slice(0, 200)}`));
          else resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** One download attempt: appends to `part` from `offset` (206), or rewrites it (200). */
function fetchInto(
  options: OtaAgentOptions,
  credentials: DeviceCredentials,
  path: string,
  part: string,
  offset: number,
  etag: string,
  length: number,
  agent: Agent | false = false,
): Promise<void> {
  const url = new URL(path, options.server);
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-`, "if-range": etag } : {};
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ...tlsOptions(options, credentials), agent, headers, timeout: options.timeoutMs ?? 30_000 },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status === 416) {
          res.resume();
          void rm(part, { force: true }).then(() => reject(new Error("range not satisfiable: starting over")), reject);
          return;
        }
        if (status !== 200 && status !== 206) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.length < 16 && chunks.push(c));
          res.on("end", () =>
            reject(new OtaRefused("download_failed", `HTTP ${status}: ${Buffer.concat(chunks).toString("utf8").slice(0, 200)}`)),
          );
          return;
        }
        const append = status === 206;
        void open(part, append ? "a" : "w", 0o600).then(async (handle) => {
          let written = append ? offset : 0;
          let failed: unknown;
          try {
            for await (const chunk of res as AsyncIterable<Buffer>) {
              written += chunk.length;
              // More than the signed length: stop reading (an endless-data attack), keep the bytes to fail the length check.
              if (written > length) {
                await handle.write(chunk.subarray(0, chunk.length - (written - length) + 1));
                res.destroy();
                break;
              }
              await handle.write(chunk);
            }
          } catch (error) {
            failed = error;
          } finally {
            await handle.close();
          }
          if (failed !== undefined) reject(failed instanceof Error ? failed : new Error("download stream failed"));
          else if (!res.complete && written < length) reject(new Error("connection closed mid-download"));
          else resolve();
        }, reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}
