import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { VigilError, type Clock, type Millis } from "../../core/index.js";
import type { MasterKeyProvider, SealedBlob } from "./key-vault.js";

/** A data key as stored: wrapped by the master key, never in the clear. */
export interface DataKeyRecord {
  readonly name: string;
  readonly masterKeyId: string;
  readonly wrapped: SealedBlob;
  readonly createdAt: Millis;
  readonly rewrappedAt: Millis | null;
}

/** Port: where the wrapped data keys live (the store implements it). */
export interface DataKeyRepository {
  get(name: string): Promise<DataKeyRecord | undefined>;
  /** Inserts unless one with this name exists; returns the one that is stored. */
  insertIfAbsent(record: DataKeyRecord): Promise<DataKeyRecord>;
  rewrap(name: string, masterKeyId: string, wrapped: SealedBlob, at: Millis): Promise<void>;
  list(): Promise<DataKeyRecord[]>;
}

const TEXT_PREFIX = "vsf1:";
const BINARY_VERSION = 1;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Field-level encryption at rest: AES-256-GCM under a data key per table (or per purpose),
 * the data key wrapped by the master key (envelope encryption). The additional data binds
 * each value to its table and to a context the caller chooses (a record id and column), so
 * a sealed value copied to another row does not open. Rotating the master key re-wraps the
 * data keys only; sealed values are untouched.
 */
export class SealedField {
  readonly name: string;
  readonly #key: Buffer;

  constructor(name: string, key: Buffer) {
    this.name = name;
    this.#key = key;
  }

  #aad(context: string): Buffer {
    return Buffer.from(`vigil-field:${this.name}:${context}`);
  }

  /** Binary form for payloads: version, 12-byte IV, 16-byte tag, ciphertext. */
  sealBytes(plaintext: Uint8Array, context: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(this.#aad(context));
    const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(BINARY_VERSION), iv, cipher.getAuthTag(), data]);
  }

  openBytes(sealed: Uint8Array, context: string): Buffer {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < 29 || buf[0] !== BINARY_VERSION) throw this.#unopenable();
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, buf.subarray(1, 13));
      decipher.setAAD(this.#aad(context));
      decipher.setAuthTag(buf.subarray(13, 29));
      return Buffer.concat([decipher.update(buf.subarray(29)), decipher.final()]);
    } catch (error) {
      throw this.#unopenable(error);
    }
  }

  /** Text form for database columns: `vsf1:<base64url>`. */
  seal(plaintext: string, context: string): string {
    return TEXT_PREFIX + this.sealBytes(Buffer.from(plaintext, "utf8"), context).toString("base64url");
  }

  open(sealed: string, context: string): string {
    if (!sealed.startsWith(TEXT_PREFIX)) throw this.#unopenable();
    return this.openBytes(Buffer.from(sealed.slice(TEXT_PREFIX.length), "base64url"), context).toString("utf8");
  }

  #unopenable(cause?: unknown): VigilError {
    return new VigilError("KEY_VAULT_UNAVAILABLE", `a sealed ${this.name} value cannot be opened`, {
      ...(cause === undefined ? {} : { cause }),
      hint: "The value was altered, moved to another record, or sealed under another data key.",
    });
  }
}

/** The data keys of every sealed table, created on first use and cached unwrapped in memory. */
export class SealedFields {
  readonly #master: MasterKeyProvider;
  readonly #repo: DataKeyRepository;
  readonly #clock: Clock;
  readonly #cache = new Map<string, Promise<SealedField>>();

  constructor(master: MasterKeyProvider, repo: DataKeyRepository, clock: Clock) {
    this.#master = master;
    this.#repo = repo;
    this.#clock = clock;
  }

  /** The sealed-field helper of `name` (a table or purpose, e.g. `operator_mfa`, `telemetry`). */
  field(name: string): Promise<SealedField> {
    if (!NAME.test(name)) throw new Error(`invalid data key name ${name}`);
    let field = this.#cache.get(name);
    if (field === undefined) {
      field = this.#load(name);
      this.#cache.set(name, field);
      field.catch(() => this.#cache.delete(name));
    }
    return field;
  }

  async #load(name: string): Promise<SealedField> {
    let record = await this.#repo.get(name);
    if (record === undefined) {
      const key = randomBytes(32);
      record = await this.#repo.insertIfAbsent({
        name,
        masterKeyId: this.#master.keyId,
        wrapped: await this.#master.wrap(key),
        createdAt: this.#clock.now(),
        rewrappedAt: null,
      });
    }
    try {
      return new SealedField(name, await this.#master.unwrap(record.wrapped));
    } catch (error) {
      throw new VigilError(
        "KEY_VAULT_UNAVAILABLE",
        `the data key ${name} cannot be unwrapped with master key ${this.#master.keyId} (wrapped under ${record.masterKeyId})`,
        { cause: error, hint: "Use the master key this data directory was set up with." },
      );
    }
  }

  /** Re-wraps every data key not yet under the current master key; returns how many. */
  async rewrapAll(): Promise<number> {
    let n = 0;
    for (const record of await this.#repo.list()) {
      if (record.masterKeyId === this.#master.keyId) continue;
      const key = await this.#master.unwrap(record.wrapped);
      await this.#repo.rewrap(record.name, this.#master.keyId, await this.#master.wrap(key), this.#clock.now());
      n++;
    }
    return n;
  }
}
