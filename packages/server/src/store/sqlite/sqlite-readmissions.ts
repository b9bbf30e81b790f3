import type Database from "better-sqlite3";
import { VigilError, type DeviceId, type Millis } from "../../core/index.js";
import type { ReadmissionRecord, ReadmissionRepository } from "../../enrollment/index.js";
import type { CertificateRecord, DeviceRecord } from "../../identity/index.js";
import { reactivateParams, toReadmission, type ReadmissionRow } from "../rows/enrollment-rows.js";

/** Re-admissions of revoked devices (migration 12); `readmit` is one transaction. */
export class SqliteReadmissions implements ReadmissionRepository {
  readonly #db: Database.Database;
  readonly #upsert;
  readonly #pending;
  readonly #useToken;
  readonly #reactivate;
  readonly #insertCert;
  readonly #done;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#upsert = db.prepare(
      `INSERT INTO device_readmissions (device_id, reason, incident, since, token_id, readmitted_at, serial) VALUES (?, ?, ?, ?, ?, NULL, NULL)
       ON CONFLICT(device_id) DO UPDATE SET reason = excluded.reason, incident = excluded.incident, since = excluded.since,
         token_id = excluded.token_id, readmitted_at = NULL, serial = NULL`,
    );
    this.#pending = db.prepare("SELECT * FROM device_readmissions WHERE device_id = ? AND readmitted_at IS NULL");
    this.#useToken = db.prepare("UPDATE enrollment_tokens SET used_at = ?, used_by_device = ? WHERE id = ? AND used_at IS NULL");
    this.#reactivate = db.prepare(
      `UPDATE devices SET profile = ?, state = 'active', firmware_version = ?, attestation_method = ?, attestation_strength = ?,
         key_type = ?, sbom_ref = ?, manufacturer_id = ?, enrolled_at = ?, factory_cert_sha256 = ?
       WHERE id = ? AND state = 'revoked'`,
    );
    this.#insertCert = db.prepare(
      "INSERT INTO certificates (serial, device_id, subject, not_before, not_after, key_sha256, pem, issued_at, revoked_at, revocation_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
    );
    this.#done = db.prepare(
      "UPDATE device_readmissions SET readmitted_at = ?, serial = ? WHERE device_id = ? AND readmitted_at IS NULL",
    );
  }

  async require(r: Omit<ReadmissionRecord, "readmittedAt" | "serial">): Promise<void> {
    this.#upsert.run(r.device, r.reason, r.incident, r.since, r.tokenId);
  }

  async pending(device: DeviceId): Promise<ReadmissionRecord | undefined> {
    const row = this.#pending.get(device) as ReadmissionRow | undefined;
    return row === undefined ? undefined : toReadmission(row);
  }

  async readmit(input: {
    device: DeviceRecord;
    certificate: CertificateRecord;
    tokenId: string | null;
    at: Millis;
  }): Promise<void> {
    const d = input.device;
    const c = input.certificate;
    this.#db.transaction(() => {
      if (input.tokenId !== null && this.#useToken.run(input.at, d.id, input.tokenId).changes !== 1) {
        throw new VigilError("ENROLLMENT_TOKEN_REPLAYED", "this claim token has already been used", {
          hint: "Ask the operator for a new token.",
          details: { tokenId: input.tokenId },
        });
      }
      if (this.#done.run(input.at, c.serial, d.id).changes !== 1 || this.#reactivate.run(...reactivateParams(d)).changes !== 1) {
        throw new VigilError("DEVICE_REVOKED", `device ${d.id} is not waiting for re-admission`, {
          hint: "It was re-admitted meanwhile, or revoked for good.",
        });
      }
      this.#insertCert.run(c.serial, c.deviceId, c.subject, c.notBefore, c.notAfter, c.keySha256, c.pem, c.issuedAt);
    })();
  }
}
