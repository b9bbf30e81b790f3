import type Database from "better-sqlite3";
import type { DeviceId, Millis } from "../../core/index.js";
import type { LegacyCredential, LegacyCredentialRepository } from "../../gateway/legacy-passwords.js";

type Db = Database.Database;

interface Row {
  device_id: string;
  password_hash: string;
  set_at: number;
  set_by: string;
}

/** Legacy devices' MQTT passwords (argon2id hashes), table `device_legacy_passwords`. */
export class SqliteLegacyCredentials implements LegacyCredentialRepository {
  readonly #get: Database.Statement<[string], Row>;
  readonly #set: Database.Statement<[string, string, number, string]>;

  constructor(db: Db) {
    this.#get = db.prepare("SELECT device_id, password_hash, set_at, set_by FROM device_legacy_passwords WHERE device_id = ?");
    this.#set = db.prepare(
      `INSERT INTO device_legacy_passwords (device_id, password_hash, set_at, set_by) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET password_hash = excluded.password_hash, set_at = excluded.set_at, set_by = excluded.set_by`,
    );
  }

  async get(device: DeviceId): Promise<LegacyCredential | undefined> {
    const row = this.#get.get(device);
    if (row === undefined) return undefined;
    return {
      device: row.device_id as DeviceId,
      passwordHash: row.password_hash,
      setAt: row.set_at as Millis,
      setBy: row.set_by,
    };
  }

  async set(credential: LegacyCredential): Promise<void> {
    this.#set.run(credential.device, credential.passwordHash, credential.setAt, credential.setBy);
  }
}
