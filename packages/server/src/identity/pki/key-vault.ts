import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { VigilError } from "../../core/index.js";

/**
 * Where private keys live at rest. Every key is sealed with AES-256-GCM under its own random
 * data key, and the data key is wrapped by a master key (envelope encryption). The master key
 * comes from a `MasterKeyProvider`, so that an HSM/KMS provider can replace the file one.
 */
export interface KeyVault {
  has(name: string): boolean;
  get(name: string): Promise<string>;
  put(name: string, secret: string): Promise<void>;
  delete(name: string): Promise<void>;
}

export interface MasterKeyProvider {
  /** A stable identifier of the master key (never the key), recorded with each sealed item. */
  readonly keyId: string;
  wrap(dataKey: Buffer): Promise<SealedBlob>;
  unwrap(blob: SealedBlob): Promise<Buffer>;
}

export interface SealedBlob {
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

function seal(key: Buffer, plaintext: Buffer, aad: string): SealedBlob {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64"), data: data.toString("base64") };
}

function unseal(key: Buffer, blob: SealedBlob, aad: string): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(blob.iv, "base64"));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(blob.tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(blob.data, "base64")), decipher.final()]);
}

/** A 32-byte master key in a file (created 0600 on first use). */
export class FileMasterKey implements MasterKeyProvider {
  readonly keyId: string;
  readonly #key: Buffer;

  private constructor(key: Buffer, keyId: string) {
    this.#key = key;
    this.keyId = keyId;
  }

  static async open(file: string, options: { create: boolean }): Promise<FileMasterKey> {
    if (!existsSync(file)) {
      if (!options.create) {
        throw new VigilError("KEY_VAULT_UNAVAILABLE", `master key file ${file} does not exist`, {
          hint: "Point keys.masterKeyFile at the master key Vigil was set up with; without it the sealed keys cannot be opened.",
        });
      }
      await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
      await writeFile(file, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    }
    const key = Buffer.from((await readFile(file, "utf8")).trim(), "base64");
    if (key.length !== 32) {
      throw new VigilError("KEY_VAULT_UNAVAILABLE", `master key file ${file} does not hold a base64 32-byte key`, {
        hint: "Restore the original master key file.",
      });
    }
    const { createHash } = await import("node:crypto");
    return new FileMasterKey(key, `file:${createHash("sha256").update(key).digest("hex").slice(0, 16)}`);
  }

  async wrap(dataKey: Buffer): Promise<SealedBlob> {
    return seal(this.#key, dataKey, "vigil-dek");
  }

  async unwrap(blob: SealedBlob): Promise<Buffer> {
    return unseal(this.#key, blob, "vigil-dek");
  }
}

interface SealedFile {
  readonly v: 1;
  readonly alg: "AES-256-GCM";
  readonly masterKeyId: string;
  readonly dek: SealedBlob;
  readonly secret: SealedBlob;
}

/**
 * Sealed keys as files `<dir>/<name>.sealed` (0600). Writes (put, delete, re-wrap) run one at a
 * time: a put racing a master-key re-wrap could otherwise land under the retiring key after
 * the re-wrap listed the directory, or be overwritten by the re-wrap's copy of the old item
 * (found by test/reliability/api-fuzz.test.ts). Reads need no lock: every file is replaced
 * by one rename, and both keys unwrap while a rotation runs.
 */
export class SealedFileVault implements KeyVault {
  readonly #dir: string;
  readonly #master: MasterKeyProvider;
  #writes: Promise<unknown> = Promise.resolve();

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(work);
    this.#writes = run.catch(() => undefined);
    return run;
  }

  constructor(dir: string, master: MasterKeyProvider) {
    this.#dir = dir;
    this.#master = master;
  }

  #file(name: string): string {
    if (!NAME.test(name)) throw new Error(`invalid vault item name ${name}`);
    return join(this.#dir, `${name}.sealed`);
  }

  has(name: string): boolean {
    return existsSync(this.#file(name));
  }

  async get(name: string): Promise<string> {
    const file = this.#file(name);
    let sealed: SealedFile;
    try {
      sealed = JSON.parse(await readFile(file, "utf8")) as SealedFile;
    } catch (error) {
      throw new VigilError("KEY_VAULT_UNAVAILABLE", `sealed key ${file} is missing or unreadable`, {
        cause: error,
        hint: "Restore it from a backup of the data directory.",
      });
    }
    try {
      const dek = await this.#master.unwrap(sealed.dek);
      return unseal(dek, sealed.secret, name).toString("utf8");
    } catch (error) {
      throw new VigilError(
        "KEY_VAULT_UNAVAILABLE",
        `sealed key ${file} cannot be opened with master key ${this.#master.keyId} (sealed under ${sealed.masterKeyId})`,
        {
          cause: error,
          hint: "The master key does not match, or the file was altered. Use the master key this data directory was set up with.",
        },
      );
    }
  }

  put(name: string, secret: string): Promise<void> {
    const file = this.#file(name);
    return this.#exclusive(() => this.#put(name, file, secret));
  }

  async #put(name: string, file: string, secret: string): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const dek = randomBytes(32);
    const sealed: SealedFile = {
      v: 1,
      alg: "AES-256-GCM",
      masterKeyId: this.#master.keyId,
      dek: await this.#master.wrap(dek),
      secret: seal(dek, Buffer.from(secret, "utf8"), name),
    };
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(sealed)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }

  delete(name: string): Promise<void> {
    const file = this.#file(name);
    return this.#exclusive(() => rm(file, { force: true }));
  }

  /**
   * Re-wraps the data key of every item not yet sealed under the current master key (the
   * secrets themselves are not re-encrypted). Each file is replaced atomically, so the vault
   * stays readable throughout; returns how many items were re-wrapped.
   */
  rewrapAll(): Promise<number> {
    return this.#exclusive(() => this.#rewrapAll());
  }

  async #rewrapAll(): Promise<number> {
    if (!existsSync(this.#dir)) return 0;
    let n = 0;
    for (const entry of await readdir(this.#dir)) {
      if (!entry.endsWith(".sealed")) continue;
      const file = join(this.#dir, entry);
      const sealed = JSON.parse(await readFile(file, "utf8")) as SealedFile;
      if (sealed.masterKeyId === this.#master.keyId) continue;
      const dek = await this.#master.unwrap(sealed.dek);
      const rewrapped: SealedFile = { ...sealed, masterKeyId: this.#master.keyId, dek: await this.#master.wrap(dek) };
      const tmp = `${file}.tmp-${process.pid}`;
      await writeFile(tmp, `${JSON.stringify(rewrapped)}\n`, { mode: 0o600 });
      await rename(tmp, file);
      n++;
    }
    return n;
  }
}
