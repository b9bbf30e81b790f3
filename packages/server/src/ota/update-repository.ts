import {
  OTA_SPEC_VERSION,
  compareVersions,
  isSemver,
  type OtaKeyType,
  type OtaKeysResponse,
  type OtaRootSigned,
  type OtaSignedRoot,
  type OtaSignedTargets,
  type OtaTargetInfo,
  type OtaTargetsSigned,
} from "@vigil/contract";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { VigilError, type Clock, type Logger } from "../core/index.js";
import {
  countValidOtaSignatures,
  generateOtaKeyPair,
  loadOtaKeyPair,
  otaImageHasher,
  signOtaMetadata,
  type KeyVault,
  type OtaKeyPair,
} from "../identity/index.js";
import type { SignalBus } from "../signals/index.js";
import type { OtaConfig } from "./ota-config.js";
import type { OtaArtifactRecord, OtaRepository } from "./ports.js";

const ROOT_KEY = "ota-root";
const TARGETS_KEY = "ota-targets";
const DAY_MS = 86_400_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const HARDWARE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export interface ArtifactManifestInput {
  readonly version: string;
  readonly profile: string;
  readonly hardware?: readonly string[] | undefined;
  readonly minVersion?: string | undefined;
  readonly counter?: number | undefined;
  readonly sbomRef?: string | undefined;
  readonly name?: string | undefined;
}

export interface UpdateRepositoryDeps {
  readonly repo: OtaRepository;
  readonly vault: KeyVault;
  readonly clock: Clock;
  readonly bus: SignalBus;
  readonly log: Logger;
  /** Where images are kept (`<data-dir>/ota`). */
  readonly dir: string;
  readonly settings: Pick<OtaConfig, "maxImageBytes" | "rootExpiryDays" | "targetsExpiryDays">;
  readonly knownProfile: (id: string) => boolean;
}

interface Keys {
  readonly root: OtaKeyPair;
  readonly targets: OtaKeyPair;
}

/**
 * The update repository in TUF's sense (spec 1.0 §4): the root and targets keys (sealed in
 * the key vault, never in the store), the signed metadata history, and the firmware images.
 * Root metadata delegates to one targets key; rotating a key signs a new root version with
 * the old root key and the new one (§5.3.4), which is how devices follow a rotation without
 * being re-provisioned. Targets metadata lists every artifact and is re-signed (new version)
 * whenever one is added, a key rotates, or half its lifetime has passed.
 */
export class UpdateRepository {
  readonly #deps: UpdateRepositoryDeps;
  #keys: Keys | undefined;
  #root: OtaSignedRoot | undefined;
  #targets: OtaSignedTargets | undefined;
  readonly #bundles = new Map<number, Buffer>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: UpdateRepositoryDeps) {
    this.#deps = deps;
  }

  /** Loads keys and the latest metadata (if keys exist) and refreshes what is near expiry. */
  async start(): Promise<void> {
    const root = await this.#deps.repo.latestMetadata("root");
    const targets = await this.#deps.repo.latestMetadata("targets");
    if (root === undefined) return;
    this.#root = JSON.parse(root.body) as OtaSignedRoot;
    this.#targets = targets === undefined ? undefined : (JSON.parse(targets.body) as OtaSignedTargets);
    this.#keys = await this.#loadKeys(this.#root);
    await this.#serial(() => this.#refresh());
  }

  get initialised(): boolean {
    return this.#root !== undefined;
  }

  /** Creates the root and targets keys and signs root v1 and targets v1. */
  keysInit(algorithm: OtaKeyType, by: string): Promise<OtaKeysResponse> {
    return this.#serial(async () => {
      if (this.#root !== undefined || (await this.#deps.repo.latestMetadata("root")) !== undefined) {
        throw new VigilError("OTA_KEYS_EXIST", "the OTA signing keys already exist", {
          hint: "Rotate them with `vigil ota keys rotate` (devices follow the new root without re-provisioning).",
        });
      }
      const keys = { root: generateOtaKeyPair(algorithm), targets: generateOtaKeyPair(algorithm) };
      await this.#deps.vault.put(ROOT_KEY, keys.root.privateKeyPem);
      await this.#deps.vault.put(TARGETS_KEY, keys.targets.privateKeyPem);
      this.#keys = keys;
      await this.#signRoot(1, keys, [keys.root]);
      await this.#signTargets();
      this.#deps.bus.emit("ota.keys_created", {
        algorithm,
        rootKeyIds: [keys.root.keyid],
        targetsKeyIds: [keys.targets.keyid],
        by,
      });
      return this.#info();
    });
  }

  /**
   * Rotates the targets key, the root key or both. The new root version is signed by the
   * current root key and (when it changes) the new one; the replaced keys are revoked: no
   * signature of theirs verifies against the new root. Crash-safe: the new private keys are
   * sealed under a staging name first and promoted once the new root is stored.
   */
  rotate(role: "targets" | "root" | "both", algorithm: OtaKeyType | undefined, by: string): Promise<OtaKeysResponse> {
    return this.#serial(async () => {
      const current = this.#requireKeys();
      const root = this.#root as OtaSignedRoot;
      const next: Keys = {
        root: role === "targets" ? current.root : generateOtaKeyPair(algorithm ?? current.root.keytype),
        targets: role === "root" ? current.targets : generateOtaKeyPair(algorithm ?? current.targets.keytype),
      };
      if (next.root !== current.root) await this.#deps.vault.put(`${ROOT_KEY}-next`, next.root.privateKeyPem);
      if (next.targets !== current.targets) await this.#deps.vault.put(`${TARGETS_KEY}-next`, next.targets.privateKeyPem);
      const signers = next.root === current.root ? [current.root] : [current.root, next.root];
      await this.#signRoot(root.signed.version + 1, next, signers);
      await this.#promote();
      this.#keys = next;
      await this.#signTargets();
      const revoked = [
        ...(next.root !== current.root ? [current.root.keyid] : []),
        ...(next.targets !== current.targets ? [current.targets.keyid] : []),
      ];
      const added = [
        ...(next.root !== current.root ? [next.root.keyid] : []),
        ...(next.targets !== current.targets ? [next.targets.keyid] : []),
      ];
      this.#deps.bus.emit("ota.keys_rotated", {
        role,
        rootVersion: root.signed.version + 1,
        revokedKeyIds: revoked,
        newKeyIds: added,
        by,
      });
      this.#deps.log.info({ role, rootVersion: root.signed.version + 1 }, "OTA keys rotated");
      return this.#info();
    });
  }

  async keysInfo(): Promise<OtaKeysResponse> {
    this.#requireKeys();
    return this.#info();
  }

  /** Adds an image with its manifest: stored by hash, then the targets metadata re-signed. */
  addArtifact(image: Buffer, manifest: ArtifactManifestInput, by: string): Promise<OtaArtifactRecord> {
    return this.#serial(async () => {
      this.#requireKeys();
      const invalid = (why: string) =>
        new VigilError("OTA_ARTIFACT_INVALID", `cannot add this artifact: ${why}`, {
          hint: "See `vigil ota artifact add --help`: a non-empty image, a semantic version, a known profile.",
        });
      if (image.length === 0) throw invalid("the image is empty");
      if (image.length > this.#deps.settings.maxImageBytes)
        throw invalid(`the image is larger than ota.maxImageBytes (${this.#deps.settings.maxImageBytes} bytes)`);
      if (!isSemver(manifest.version)) throw invalid(`version ${JSON.stringify(manifest.version)} is not a semantic version`);
      if (!this.#deps.knownProfile(manifest.profile)) throw invalid(`profile ${JSON.stringify(manifest.profile)} is unknown`);
      if (manifest.minVersion !== undefined) {
        if (!isSemver(manifest.minVersion))
          throw invalid(`min-version ${JSON.stringify(manifest.minVersion)} is not a semantic version`);
        if (compareVersions(manifest.minVersion, manifest.version) > 0) throw invalid("min-version is above the version itself");
      }
      const hardware = [...new Set(manifest.hardware ?? [])];
      const badHardware = hardware.find((h) => !HARDWARE.test(h));
      if (badHardware !== undefined) throw invalid(`hardware id ${JSON.stringify(badHardware.slice(0, 70))} is not valid`);
      const name = manifest.name ?? `${manifest.profile}-${manifest.version}`;
      if (!NAME.test(name)) throw invalid(`name ${JSON.stringify(name.slice(0, 140))} is not valid`);
      if ((await this.#deps.repo.getArtifact(name)) !== undefined) {
        throw new VigilError("OTA_ARTIFACT_EXISTS", `an artifact named ${name} already exists`, {
          hint: "Artifacts are immutable: publish a new version.",
        });
      }
      const sameProfile = (await this.#deps.repo.listArtifacts()).filter((a) => a.profile === manifest.profile);
      const floor = sameProfile.reduce((max, a) => Math.max(max, a.counter), 0);
      const counter = manifest.counter ?? floor;
      if (counter < floor) throw invalid(`counter ${counter} is below ${floor}, the highest of profile ${manifest.profile}`);
      const hasher = otaImageHasher();
      hasher.update(image);
      const sha256 = hasher.digestHex();
      const file = join("images", `${sha256}.bin`);
      await writeDurably(join(this.#deps.dir, file), image);
      const record: OtaArtifactRecord = {
        name,
        version: manifest.version,
        profile: manifest.profile,
        hardware,
        minVersion: manifest.minVersion ?? null,
        counter,
        sha256,
        length: image.length,
        sbomRef: manifest.sbomRef ?? null,
        file,
        createdAt: this.#deps.clock.now(),
        createdBy: by,
      };
      await this.#deps.repo.insertArtifact(record);
      await this.#signTargets();
      this.#deps.bus.emit("ota.artifact_added", {
        artifact: name,
        version: record.version,
        profile: record.profile,
        sha256,
        length: record.length,
        by,
      });
      return record;
    });
  }

  listArtifacts(): Promise<OtaArtifactRecord[]> {
    return this.#deps.repo.listArtifacts();
  }

  async getArtifact(name: string): Promise<OtaArtifactRecord> {
    const artifact = NAME.test(name) ? await this.#deps.repo.getArtifact(name) : undefined;
    if (artifact === undefined) {
      throw new VigilError("OTA_ARTIFACT_NOT_FOUND", `no artifact named ${JSON.stringify(name.slice(0, 140))}`, {
        hint: "List them with `vigil ota artifact list`.",
      });
    }
    return artifact;
  }

  imagePath(artifact: OtaArtifactRecord): string {
    return join(this.#deps.dir, artifact.file);
  }

  /**
   * What a device trusting root version `trusted` fetches: the newer roots in order, and the
   * current targets. JSON bytes, cached until the metadata changes.
   */
  async bundle(trusted: number): Promise<Buffer> {
    this.#requireKeys();
    const targets = this.#targets as OtaSignedTargets;
    if (this.#expiresSoon(targets.signed.expires, this.#deps.settings.targetsExpiryDays / 2)) {
      await this.#serial(() => this.#refresh());
    }
    const latest = (this.#root as OtaSignedRoot).signed.version;
    const from = Math.max(0, Math.min(trusted, latest));
    const cached = this.#bundles.get(from);
    if (cached !== undefined) return cached;
    const roots = (await this.#deps.repo.rootsAfter(from)).map((r) => JSON.parse(r.body) as OtaSignedRoot);
    const body = Buffer.from(JSON.stringify({ roots, targets: this.#targets }));
    if (this.#bundles.size > 64) this.#bundles.clear();
    this.#bundles.set(from, body);
    return body;
  }

  /** The root metadata a device is provisioned with (version 1 unless told otherwise). */
  async root(version = 1): Promise<OtaSignedRoot> {
    this.#requireKeys();
    const all = await this.#deps.repo.rootsAfter(version - 1);
    const found = all.find((r) => r.version === version);
    if (found === undefined) throw new VigilError("NOT_FOUND", `no OTA root metadata version ${version}`);
    return JSON.parse(found.body) as OtaSignedRoot;
  }

  // ---- internals ----

  #requireKeys(): Keys {
    if (this.#keys === undefined || this.#root === undefined) {
      throw new VigilError("OTA_KEYS_ABSENT", "the OTA signing keys have not been created", {
        hint: "Run `vigil ota keys init` once; it creates the root and targets keys in the key vault.",
      });
    }
    return this.#keys;
  }

  #info(): OtaKeysResponse {
    const root = this.#root as OtaSignedRoot;
    const targets = this.#targets as OtaSignedTargets;
    const keys = this.#keys as Keys;
    return {
      rootVersion: root.signed.version,
      targetsVersion: targets.signed.version,
      algorithm: keys.targets.keytype,
      rootKeyIds: root.signed.roles.root.keyids,
      targetsKeyIds: root.signed.roles.targets.keyids,
      rootExpires: root.signed.expires,
      targetsExpires: targets.signed.expires,
    };
  }

  #expires(days: number): string {
    return new Date(Math.floor((this.#deps.clock.now() + days * DAY_MS) / 1000) * 1000).toISOString().replace(".000Z", "Z");
  }

  #expiresSoon(expires: string, withinDays: number): boolean {
    return Date.parse(expires) - this.#deps.clock.now() < withinDays * DAY_MS;
  }

  async #signRoot(version: number, keys: Keys, signers: readonly OtaKeyPair[]): Promise<void> {
    const signed: OtaRootSigned = {
      _type: "root",
      spec_version: OTA_SPEC_VERSION,
      version,
      expires: this.#expires(this.#deps.settings.rootExpiryDays),
      keys: {
        [keys.root.keyid]: { keytype: keys.root.keytype, public: keys.root.publicKeyPem },
        [keys.targets.keyid]: { keytype: keys.targets.keytype, public: keys.targets.publicKeyPem },
      },
      roles: {
        root: { keyids: [keys.root.keyid], threshold: 1 },
        targets: { keyids: [keys.targets.keyid], threshold: 1 },
      },
    };
    const envelope: OtaSignedRoot = { signed, signatures: signers.map((k) => signOtaMetadata(signed, k)) };
    await this.#deps.repo.putMetadata({
      role: "root",
      version,
      body: JSON.stringify(envelope),
      createdAt: this.#deps.clock.now(),
    });
    this.#root = envelope;
    this.#bundles.clear();
  }

  async #signTargets(): Promise<void> {
    const keys = this.#requireKeys();
    const artifacts = await this.#deps.repo.listArtifacts();
    const targets: Record<string, OtaTargetInfo> = {};
    for (const a of artifacts) {
      targets[a.name] = {
        length: a.length,
        hashes: { sha256: a.sha256 },
        custom: {
          version: a.version,
          profile: a.profile,
          hardware: [...a.hardware],
          minVersion: a.minVersion,
          counter: a.counter,
          sbomRef: a.sbomRef,
        },
      };
    }
    const version = (this.#targets?.signed.version ?? 0) + 1;
    const signed: OtaTargetsSigned = {
      _type: "targets",
      spec_version: OTA_SPEC_VERSION,
      version,
      expires: this.#expires(this.#deps.settings.targetsExpiryDays),
      targets,
    };
    const envelope: OtaSignedTargets = { signed, signatures: [signOtaMetadata(signed, keys.targets)] };
    await this.#deps.repo.putMetadata({
      role: "targets",
      version,
      body: JSON.stringify(envelope),
      createdAt: this.#deps.clock.now(),
    });
    this.#targets = envelope;
    this.#bundles.clear();
  }

  /** Re-signs root (same keys, new version) or targets when near expiry. */
  async #refresh(): Promise<void> {
    const keys = this.#requireKeys();
    const root = this.#root as OtaSignedRoot;
    if (this.#expiresSoon(root.signed.expires, this.#deps.settings.rootExpiryDays / 4)) {
      await this.#signRoot(root.signed.version + 1, keys, [keys.root]);
      this.#deps.log.info({ version: root.signed.version + 1 }, "OTA root metadata re-signed before expiry");
    }
    const targets = this.#targets;
    if (targets === undefined || this.#expiresSoon(targets.signed.expires, this.#deps.settings.targetsExpiryDays / 2)) {
      await this.#signTargets();
    }
  }

  /** The sealed keys, reconciled with the latest root after a crash in the middle of a rotation. */
  async #loadKeys(root: OtaSignedRoot): Promise<Keys> {
    const vault = this.#deps.vault;
    for (const name of [ROOT_KEY, TARGETS_KEY]) {
      if (vault.has(`${name}-next`)) {
        const staged = loadOtaKeyPair(await vault.get(`${name}-next`));
        const listed = name === ROOT_KEY ? root.signed.roles.root.keyids : root.signed.roles.targets.keyids;
        if (listed.includes(staged.keyid)) await vault.put(name, staged.privateKeyPem);
        await vault.delete(`${name}-next`);
      }
    }
    if (!vault.has(ROOT_KEY) || !vault.has(TARGETS_KEY)) {
      throw new VigilError("OTA_METADATA_INVALID", "OTA metadata exists but its signing keys are not in the key vault", {
        hint: "Restore <data-dir>/keys/ota-root.sealed and ota-targets.sealed from a backup.",
      });
    }
    const keys = { root: loadOtaKeyPair(await vault.get(ROOT_KEY)), targets: loadOtaKeyPair(await vault.get(TARGETS_KEY)) };
    // The stored root must verify with the keys it names (TUF §5.3.4, threshold of its own root role).
    const ok =
      countValidOtaSignatures(root.signed, root.signatures, root.signed.keys, root.signed.roles.root.keyids) >=
      root.signed.roles.root.threshold;
    if (
      !ok ||
      !root.signed.roles.root.keyids.includes(keys.root.keyid) ||
      !root.signed.roles.targets.keyids.includes(keys.targets.keyid)
    ) {
      throw new VigilError("OTA_METADATA_INVALID", "the stored OTA root metadata does not match the sealed signing keys", {
        hint: "The store or the key vault was altered or restored from different backups; restore both from the same backup.",
      });
    }
    return keys;
  }

  async #promote(): Promise<void> {
    const vault = this.#deps.vault;
    for (const name of [ROOT_KEY, TARGETS_KEY]) {
      if (!vault.has(`${name}-next`)) continue;
      await vault.put(name, await vault.get(`${name}-next`));
      await vault.delete(`${name}-next`);
    }
  }

  /** Serialises every change to keys and metadata (one writer, versions never collide). */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** Temporary file, fsync, rename: an image is either whole or absent. */
async function writeDurably(file: string, data: Buffer): Promise<void> {
  await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  const handle = await open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}
