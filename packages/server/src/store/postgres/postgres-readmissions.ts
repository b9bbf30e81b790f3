import { VigilError, type DeviceId, type Millis } from "../../core/index.js";
import type { ReadmissionRecord, ReadmissionRepository } from "../../enrollment/index.js";
import type { CertificateRecord, DeviceRecord } from "../../identity/index.js";
import type { Db } from "./postgres-db.js";
import { reactivateParams, toReadmission, type ReadmissionRow } from "../rows/enrollment-rows.js";

/** Re-admissions of revoked devices (PostgreSQL migration 2, SQLite 12); `readmit` is one transaction. */
export class PostgresReadmissions implements ReadmissionRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async require(r: Omit<ReadmissionRecord, "readmittedAt" | "serial">): Promise<void> {
    await this.#db.query(
      `INSERT INTO device_readmissions (device_id, reason, incident, since, token_id, readmitted_at, serial) VALUES ($1, $2, $3, $4, $5, NULL, NULL)
       ON CONFLICT (device_id) DO UPDATE SET reason = excluded.reason, incident = excluded.incident, since = excluded.since,
         token_id = excluded.token_id, readmitted_at = NULL, serial = NULL`,
      [r.device, r.reason, r.incident, r.since, r.tokenId],
    );
  }

  async pending(device: DeviceId): Promise<ReadmissionRecord | undefined> {
    const { rows } = await this.#db.query<ReadmissionRow>(
      "SELECT * FROM device_readmissions WHERE device_id = $1 AND readmitted_at IS NULL",
      [device],
    );
    const row = rows[0];
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
    await this.#db.tx(async (client) => {
      if (input.tokenId !== null) {
        const used = await client.query(
          "UPDATE enrollment_tokens SET used_at = $1, used_by_device = $2 WHERE id = $3 AND used_at IS NULL",
          [input.at, d.id, input.tokenId],
        );
        if (used.rowCount !== 1) {
          throw new VigilError("ENROLLMENT_TOKEN_REPLAYED", "this claim token has already been used", {
            hint: "Ask the operator for a new token.",
            details: { tokenId: input.tokenId },
          });
        }
      }
      const done = await client.query(
        "UPDATE device_readmissions SET readmitted_at = $1, serial = $2 WHERE device_id = $3 AND readmitted_at IS NULL",
        [input.at, c.serial, d.id],
      );
      const reactivated =
        done.rowCount === 1
          ? await client.query(
              `UPDATE devices SET profile = $1, state = 'active', firmware_version = $2, attestation_method = $3, attestation_strength = $4,
                 key_type = $5, sbom_ref = $6, manufacturer_id = $7, enrolled_at = $8, factory_cert_sha256 = $9
               WHERE id = $10 AND state = 'revoked'`,
              reactivateParams(d),
            )
          : undefined;
      if (reactivated?.rowCount !== 1) {
        throw new VigilError("DEVICE_REVOKED", `device ${d.id} is not waiting for re-admission`, {
          hint: "It was re-admitted meanwhile, or revoked for good.",
        });
      }
      await client.query(
        "INSERT INTO certificates (serial, device_id, subject, not_before, not_after, key_sha256, pem, issued_at, revoked_at, revocation_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)",
        [c.serial, c.deviceId, c.subject, c.notBefore, c.notAfter, c.keySha256, c.pem, c.issuedAt],
      );
    });
  }
}
