import type { PoolClient } from "pg";
import { VigilError, type DeviceId, type Millis } from "../../core/index.js";
import type {
  EnrollmentLedger,
  EnrollmentTokenRecord,
  EnrollmentTokenRepository,
  ManufacturerRecord,
  ManufacturerRepository,
} from "../../enrollment/index.js";
import type {
  CertificateRecord,
  CertificateRepository,
  DevicePage,
  DeviceRecord,
  DeviceRepository,
  DeviceState,
} from "../../identity/index.js";
import { conflict, constraintOf, isUniqueViolation, placeholders, type Db } from "./postgres-db.js";
import {
  type DeviceRow,
  DEVICE_COLUMNS,
  deviceParams,
  toDevice,
  type CertificateRow,
  toCertificate,
  certificateParams,
  completeDeviceParams,
} from "../rows/device-rows.js";
import { manufacturerParams, type ManufacturerRow, toManufacturer, type TokenRow, toToken } from "../rows/enrollment-rows.js";

const INSERT_DEVICE = `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (${placeholders(15)})`;

export class PostgresDevices implements DeviceRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async count(): Promise<number> {
    return (await this.#db.query<{ n: number }>("SELECT COUNT(*) AS n FROM devices")).rows[0]?.n ?? 0;
  }

  async get(id: DeviceId): Promise<DeviceRecord | undefined> {
    const { rows } = await this.#db.pool.query<DeviceRow>({
      name: "vigil_device_get",
      text: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`,
      values: [id],
    });
    return rows[0] && toDevice(rows[0]);
  }

  async insert(r: DeviceRecord): Promise<void> {
    try {
      await this.#db.pool.query({ name: "vigil_device_insert", text: INSERT_DEVICE, values: deviceParams(r) });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`device ${r.id}`, error);
      throw error;
    }
  }

  /** All or nothing: one transaction; the first duplicate aborts every row of the batch. */
  async insertMany(records: readonly DeviceRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.tx(async (client) => {
      for (const r of records) {
        try {
          await client.query({ name: "vigil_device_insert", text: INSERT_DEVICE, values: deviceParams(r) });
        } catch (error) {
          if (isUniqueViolation(error)) throw conflict(`device ${r.id}`, error);
          throw error;
        }
      }
    });
  }

  async revoke(id: DeviceId, at: Millis, reason: string): Promise<string[]> {
    return this.#db.tx(async (client) => {
      const { rows } = await client.query<{ serial: string }>(
        "UPDATE certificates SET revoked_at = $1, revocation_reason = $2 WHERE device_id = $3 AND revoked_at IS NULL RETURNING serial",
        [at, reason, id],
      );
      await client.query("UPDATE devices SET state = 'revoked' WHERE id = $1", [id]);
      return rows.map((r) => r.serial);
    });
  }

  async list(query: {
    limit: number;
    after?: string | undefined;
    state?: DeviceState | undefined;
    sites?: readonly string[] | undefined;
  }): Promise<DevicePage> {
    const where = ["id > $1"];
    const args: unknown[] = [query.after ?? ""];
    if (query.state !== undefined) {
      args.push(query.state);
      where.push(`state = $${args.length}`);
    }
    if (query.sites !== undefined) {
      args.push([...query.sites]);
      where.push(`site = ANY($${args.length}::text[])`);
    }
    args.push(query.limit + 1); // one extra row tells whether another page follows
    const { rows } = await this.#db.query<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE ${where.join(" AND ")} ORDER BY id LIMIT $${args.length}`,
      args,
    );
    const items = rows.slice(0, query.limit).map(toDevice);
    const next = rows.length > query.limit ? (items.at(-1)?.id ?? null) : null;
    return { items, next };
  }
}

export class PostgresCertificates implements CertificateRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(serial: string): Promise<CertificateRecord | undefined> {
    const { rows } = await this.#db.query<CertificateRow>("SELECT * FROM certificates WHERE serial = $1", [serial]);
    return rows[0] && toCertificate(rows[0]);
  }

  async listForDevice(deviceId: DeviceId): Promise<CertificateRecord[]> {
    const { rows } = await this.#db.query<CertificateRow>(
      "SELECT * FROM certificates WHERE device_id = $1 ORDER BY issued_at DESC",
      [deviceId],
    );
    return rows.map(toCertificate);
  }

  async latestForDevices(deviceIds: readonly DeviceId[]): Promise<Map<DeviceId, CertificateRecord>> {
    const out = new Map<DeviceId, CertificateRecord>();
    if (deviceIds.length === 0) return out;
    const { rows } = await this.#db.query<CertificateRow>(
      `SELECT c.* FROM certificates c JOIN (SELECT device_id, MAX(issued_at) AS latest FROM certificates WHERE device_id = ANY($1::text[]) GROUP BY device_id) l
       ON c.device_id = l.device_id AND c.issued_at = l.latest`,
      [[...deviceIds]],
    );
    for (const row of rows) {
      const existing = out.get(row.device_id as DeviceId);
      if (existing === undefined || existing.notAfter < row.not_after) out.set(row.device_id as DeviceId, toCertificate(row));
    }
    return out;
  }

  async listRevoked(now: Millis): Promise<CertificateRecord[]> {
    const { rows } = await this.#db.query<CertificateRow>(
      "SELECT * FROM certificates WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY revoked_at",
      [now],
    );
    return rows.map(toCertificate);
  }
}

export class PostgresManufacturers implements ManufacturerRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async insert(r: ManufacturerRecord): Promise<void> {
    try {
      await this.#db.query(
        "INSERT INTO manufacturers (id, name, ca_pem, ca_sha256, serial_allowlist, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        manufacturerParams(r),
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`manufacturer ${r.name} (or its CA)`, error);
      throw error;
    }
  }

  async get(id: string): Promise<ManufacturerRecord | undefined> {
    const { rows } = await this.#db.query<ManufacturerRow>("SELECT * FROM manufacturers WHERE id = $1", [id]);
    return rows[0] && toManufacturer(rows[0]);
  }

  async list(): Promise<ManufacturerRecord[]> {
    return (await this.#db.query<ManufacturerRow>("SELECT * FROM manufacturers ORDER BY created_at")).rows.map(toManufacturer);
  }

  async revoke(id: string, at: Millis): Promise<boolean> {
    const result = await this.#db.query("UPDATE manufacturers SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [
      at,
      id,
    ]);
    return result.rowCount === 1;
  }
}

export class PostgresEnrollmentTokens implements EnrollmentTokenRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async insertMany(records: readonly EnrollmentTokenRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.tx(async (client) => {
      for (const r of records) {
        try {
          await client.query(
            "INSERT INTO enrollment_tokens (id, secret_hash, profile, device_id, created_at, expires_at, used_at, used_by_device, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [r.id, r.secretHash, r.profile, r.deviceId, r.createdAt, r.expiresAt, r.usedAt, r.usedByDevice, r.createdBy],
          );
        } catch (error) {
          if (isUniqueViolation(error)) throw conflict(`enrollment token ${r.id}`, error);
          throw error;
        }
      }
    });
  }

  async get(id: string): Promise<EnrollmentTokenRecord | undefined> {
    const { rows } = await this.#db.query<TokenRow>("SELECT * FROM enrollment_tokens WHERE id = $1", [id]);
    return rows[0] && toToken(rows[0]);
  }

  async list(options: { includeUsed: boolean }): Promise<EnrollmentTokenRecord[]> {
    const sql = options.includeUsed
      ? "SELECT * FROM enrollment_tokens ORDER BY created_at, id"
      : "SELECT * FROM enrollment_tokens WHERE used_at IS NULL ORDER BY created_at, id";
    return (await this.#db.query<TokenRow>(sql)).rows.map(toToken);
  }
}

const INSERT_CERT =
  "INSERT INTO certificates (serial, device_id, subject, not_before, not_after, key_sha256, pem, issued_at, revoked_at, revocation_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

type Write = (client: PoolClient) => Promise<void>;

/**
 * The SQLite ledger's contract on PostgreSQL: each write is atomic (token use, device, and
 * certificate together, or none of them), one failing write neither fails nor undoes any
 * other, and every promise settles only after the COMMIT that made its write durable.
 * SQLite needs explicit group commit (one writer, one fsync per transaction); PostgreSQL
 * already groups the WAL flushes of concurrent commits, so concurrent writes simply run in
 * their own transactions on the pool's connections (measured in bench/store.ts).
 */
export class PostgresEnrollmentLedger implements EnrollmentLedger {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  #write(write: Write): Promise<void> {
    return this.#db.tx(write);
  }

  async recordEnrollment(input: {
    device: DeviceRecord;
    completesPending: boolean;
    certificate: CertificateRecord;
    tokenId: string | null;
    at: Millis;
  }): Promise<void> {
    const d = input.device;
    return this.#write(async (client) => {
      if (input.tokenId !== null) {
        const used = await client.query(
          "UPDATE enrollment_tokens SET used_at = $1, used_by_device = $2 WHERE id = $3 AND used_at IS NULL",
          [input.at, d.id, input.tokenId],
        );
        if (used.rowCount !== 1) {
          throw new VigilError("ENROLLMENT_TOKEN_REPLAYED", "this claim token has already been used", {
            hint: "Ask the operator for a new token.",
          });
        }
      }
      if (input.completesPending) {
        const changed = await client.query(
          `UPDATE devices SET profile = $1, state = $2, firmware_version = $3, attestation_method = $4, attestation_strength = $5, key_type = $6, sbom_ref = $7, manufacturer_id = $8, enrolled_at = $9, factory_cert_sha256 = $10
           WHERE id = $11 AND state = 'pending'`,
          completeDeviceParams(d),
        );
        if (changed.rowCount !== 1)
          throw new VigilError("ENROLLMENT_ALREADY_ENROLLED", `device ${d.id} was enrolled meanwhile`, {
            hint: "Renew with simplereenroll.",
          });
      } else {
        try {
          await client.query({ name: "vigil_device_insert", text: INSERT_DEVICE, values: deviceParams(d) });
        } catch (error) {
          if (isUniqueViolation(error) && constraintOf(error) === "devices_factory_cert") {
            throw new VigilError("ENROLLMENT_FACTORY_CERT_REUSED", "this factory certificate already enrolled another device", {
              cause: error,
              hint: "One factory identity enrolls one device. A second device presenting it may be a clone.",
            });
          }
          if (isUniqueViolation(error)) {
            throw new VigilError("ENROLLMENT_ALREADY_ENROLLED", `device ${d.id} is already enrolled`, {
              cause: error,
              hint: "Renew with simplereenroll.",
            });
          }
          throw error;
        }
      }
      await storeCert(client, input.certificate);
    });
  }

  async recordRenewal(input: { certificate: CertificateRecord; at: Millis }): Promise<void> {
    return this.#write((client) => storeCert(client, input.certificate));
  }
}

async function storeCert(client: PoolClient, c: CertificateRecord): Promise<void> {
  await client.query({
    name: "vigil_cert_insert",
    text: INSERT_CERT,
    values: certificateParams(c),
  });
}
