import type Database from "better-sqlite3";
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
import { conflict, isUniqueViolation } from "./sql-errors.js";
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

type Db = Database.Database;

export class SqliteDevices implements DeviceRepository {
  readonly #db: Db;
  readonly #count;
  readonly #get;
  readonly #insert;
  readonly #page;
  readonly #pageByState;
  readonly #pageAll;
  readonly #pageAllByState;
  readonly #revokeDevice;
  readonly #activeSerials;
  readonly #revokeCert;

  constructor(db: Db) {
    this.#db = db;
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM devices");
    this.#get = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ?`);
    this.#insert = db.prepare(`INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // Operators of every site page without a site filter (the index order alone); others
    // filter by a JSON array of their sites (json_each).
    const sites = "site IN (SELECT value FROM json_each(?))";
    this.#pageAll = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id > ? ORDER BY id LIMIT ?`);
    this.#pageAllByState = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE state = ? AND id > ? ORDER BY id LIMIT ?`);
    this.#page = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id > ? AND ${sites} ORDER BY id LIMIT ?`);
    this.#pageByState = db.prepare(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE state = ? AND id > ? AND ${sites} ORDER BY id LIMIT ?`,
    );
    this.#revokeDevice = db.prepare("UPDATE devices SET state = 'revoked' WHERE id = ?");
    this.#activeSerials = db.prepare("SELECT serial FROM certificates WHERE device_id = ? AND revoked_at IS NULL");
    this.#revokeCert = db.prepare(
      "UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL",
    );
  }

  async count(): Promise<number> {
    return (this.#count.get() as { n: number }).n;
  }

  async get(id: DeviceId): Promise<DeviceRecord | undefined> {
    const row = this.#get.get(id) as DeviceRow | undefined;
    return row && toDevice(row);
  }

  async insert(r: DeviceRecord): Promise<void> {
    try {
      this.#insert.run(...deviceParams(r));
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`device ${r.id}`, error);
      throw error;
    }
  }

  async insertMany(records: readonly DeviceRecord[]): Promise<void> {
    this.#db.transaction(() => {
      for (const r of records) {
        try {
          this.#insert.run(...deviceParams(r));
        } catch (error) {
          if (isUniqueViolation(error)) throw conflict(`device ${r.id}`, error);
          throw error;
        }
      }
    })();
  }

  async revoke(id: DeviceId, at: Millis, reason: string): Promise<string[]> {
    return this.#db.transaction(() => {
      const serials = (this.#activeSerials.all(id) as { serial: string }[]).map((r) => r.serial);
      for (const serial of serials) this.#revokeCert.run(at, reason, serial);
      this.#revokeDevice.run(id);
      return serials;
    })();
  }

  async list(query: {
    limit: number;
    after?: string | undefined;
    state?: DeviceState | undefined;
    sites?: readonly string[] | undefined;
  }): Promise<DevicePage> {
    const after = query.after ?? "";
    const sites = query.sites === undefined ? null : JSON.stringify(query.sites);
    // Fetch one extra row to know whether another page follows.
    const rows = (
      sites === null
        ? query.state === undefined
          ? this.#pageAll.all(after, query.limit + 1)
          : this.#pageAllByState.all(query.state, after, query.limit + 1)
        : query.state === undefined
          ? this.#page.all(after, sites, query.limit + 1)
          : this.#pageByState.all(query.state, after, sites, query.limit + 1)
    ) as DeviceRow[];
    const items = rows.slice(0, query.limit).map(toDevice);
    const next = rows.length > query.limit ? (items.at(-1)?.id ?? null) : null;
    return { items, next };
  }
}

export class SqliteCertificates implements CertificateRepository {
  readonly #db: Db;
  readonly #latestBySize = new Map<number, Database.Statement>();
  readonly #get;
  readonly #forDevice;
  readonly #revoked;

  constructor(db: Db) {
    this.#db = db;
    this.#get = db.prepare("SELECT * FROM certificates WHERE serial = ?");
    this.#forDevice = db.prepare("SELECT * FROM certificates WHERE device_id = ? ORDER BY issued_at DESC");
    this.#revoked = db.prepare("SELECT * FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ? ORDER BY revoked_at");
  }

  async get(serial: string): Promise<CertificateRecord | undefined> {
    const row = this.#get.get(serial) as CertificateRow | undefined;
    return row && toCertificate(row);
  }

  async listForDevice(deviceId: DeviceId): Promise<CertificateRecord[]> {
    return (this.#forDevice.all(deviceId) as CertificateRow[]).map(toCertificate);
  }

  async latestForDevices(deviceIds: readonly DeviceId[]): Promise<Map<DeviceId, CertificateRecord>> {
    const out = new Map<DeviceId, CertificateRecord>();
    for (let i = 0; i < deviceIds.length; i += 500) {
      const chunk = deviceIds.slice(i, i + 500);
      const rows = this.#latestStatement(chunk.length).all(...chunk) as CertificateRow[];
      for (const row of rows) {
        const existing = out.get(row.device_id as DeviceId);
        if (existing === undefined || existing.notAfter < row.not_after) out.set(row.device_id as DeviceId, toCertificate(row));
      }
    }
    return out;
  }

  /** Prepared once per IN-list size (pages have few distinct sizes). */
  #latestStatement(size: number): Database.Statement {
    let statement = this.#latestBySize.get(size);
    if (statement === undefined) {
      statement = this.#db.prepare(
        `SELECT c.* FROM certificates c JOIN (SELECT device_id, MAX(issued_at) AS latest FROM certificates WHERE device_id IN (${Array.from({ length: size }, () => "?").join(",")}) GROUP BY device_id) l
         ON c.device_id = l.device_id AND c.issued_at = l.latest`,
      );
      if (this.#latestBySize.size < 64) this.#latestBySize.set(size, statement);
    }
    return statement;
  }

  async listRevoked(now: Millis): Promise<CertificateRecord[]> {
    return (this.#revoked.all(now) as CertificateRow[]).map(toCertificate);
  }
}

export class SqliteManufacturers implements ManufacturerRepository {
  readonly #insert;
  readonly #get;
  readonly #list;
  readonly #revoke;

  constructor(db: Db) {
    this.#insert = db.prepare(
      "INSERT INTO manufacturers (id, name, ca_pem, ca_sha256, serial_allowlist, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.#get = db.prepare("SELECT * FROM manufacturers WHERE id = ?");
    this.#list = db.prepare("SELECT * FROM manufacturers ORDER BY created_at");
    this.#revoke = db.prepare("UPDATE manufacturers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
  }

  async insert(r: ManufacturerRecord): Promise<void> {
    try {
      this.#insert.run(...manufacturerParams(r));
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`manufacturer ${r.name} (or its CA)`, error);
      throw error;
    }
  }

  async get(id: string): Promise<ManufacturerRecord | undefined> {
    const row = this.#get.get(id) as ManufacturerRow | undefined;
    return row && toManufacturer(row);
  }

  async list(): Promise<ManufacturerRecord[]> {
    return (this.#list.all() as ManufacturerRow[]).map(toManufacturer);
  }

  async revoke(id: string, at: Millis): Promise<boolean> {
    return this.#revoke.run(at, id).changes === 1;
  }
}

export class SqliteEnrollmentTokens implements EnrollmentTokenRepository {
  readonly #db: Db;
  readonly #insert;
  readonly #get;
  readonly #listAll;
  readonly #listUnused;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare(
      "INSERT INTO enrollment_tokens (id, secret_hash, profile, device_id, created_at, expires_at, used_at, used_by_device, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#get = db.prepare("SELECT * FROM enrollment_tokens WHERE id = ?");
    this.#listAll = db.prepare("SELECT * FROM enrollment_tokens ORDER BY created_at, id");
    this.#listUnused = db.prepare("SELECT * FROM enrollment_tokens WHERE used_at IS NULL ORDER BY created_at, id");
  }

  async insertMany(records: readonly EnrollmentTokenRecord[]): Promise<void> {
    this.#db.transaction(() => {
      for (const r of records) {
        this.#insert.run(
          r.id,
          r.secretHash,
          r.profile,
          r.deviceId,
          r.createdAt,
          r.expiresAt,
          r.usedAt,
          r.usedByDevice,
          r.createdBy,
        );
      }
    })();
  }

  async get(id: string): Promise<EnrollmentTokenRecord | undefined> {
    const row = this.#get.get(id) as TokenRow | undefined;
    return row && toToken(row);
  }

  async list(options: { includeUsed: boolean }): Promise<EnrollmentTokenRecord[]> {
    return ((options.includeUsed ? this.#listAll : this.#listUnused).all() as TokenRow[]).map(toToken);
  }
}

const OK = Symbol("ok");

export class SqliteEnrollmentLedger implements EnrollmentLedger {
  readonly #db: Db;
  #queue: { write: () => void; resolve: () => void; reject: (error: unknown) => void }[] = [];
  readonly #useToken;
  readonly #insertDevice;
  readonly #completeDevice;
  readonly #insertCert;

  constructor(db: Db) {
    this.#db = db;
    this.#useToken = db.prepare("UPDATE enrollment_tokens SET used_at = ?, used_by_device = ? WHERE id = ? AND used_at IS NULL");
    this.#insertDevice = db.prepare(
      `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#completeDevice = db.prepare(
      `UPDATE devices SET profile = ?, state = ?, firmware_version = ?, attestation_method = ?, attestation_strength = ?, key_type = ?, sbom_ref = ?, manufacturer_id = ?, enrolled_at = ?, factory_cert_sha256 = ?
       WHERE id = ? AND state = 'pending'`,
    );
    this.#insertCert = db.prepare(
      "INSERT INTO certificates (serial, device_id, subject, not_before, not_after, key_sha256, pem, issued_at, revoked_at, revocation_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
  }

  #storeCert(c: CertificateRecord): void {
    this.#insertCert.run(...certificateParams(c));
  }

  /**
   * Group commit: writes queued in the same event-loop turn share one transaction (one fsync),
   * each inside its own savepoint, so one failing write neither fails nor undoes the others.
   * Every promise settles only after the commit that made its write durable.
   */
  #enqueue(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, resolve, reject });
      if (this.#queue.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    const outcomes: unknown[] = [];
    try {
      this.#db
        .transaction(() => {
          for (const item of batch) {
            try {
              this.#db.transaction(item.write)(); // nested: a savepoint
              outcomes.push(OK);
            } catch (error) {
              outcomes.push(error);
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => (outcomes[i] === OK ? item.resolve() : item.reject(outcomes[i])));
  }

  async recordEnrollment(input: {
    device: DeviceRecord;
    completesPending: boolean;
    certificate: CertificateRecord;
    tokenId: string | null;
    at: Millis;
  }): Promise<void> {
    const d = input.device;
    return this.#enqueue(() => {
      if (input.tokenId !== null && this.#useToken.run(input.at, d.id, input.tokenId).changes !== 1) {
        throw new VigilError("ENROLLMENT_TOKEN_REPLAYED", "this claim token has already been used", {
          hint: "Ask the operator for a new token.",
        });
      }
      if (input.completesPending) {
        const changed = this.#completeDevice.run(...completeDeviceParams(d)).changes;
        if (changed !== 1)
          throw new VigilError("ENROLLMENT_ALREADY_ENROLLED", `device ${d.id} was enrolled meanwhile`, {
            hint: "Renew with simplereenroll.",
          });
      } else {
        try {
          this.#insertDevice.run(...deviceParams(d));
        } catch (error) {
          if (isUniqueViolation(error) && /factory_cert/.test(String((error as Error).message))) {
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
      this.#storeCert(input.certificate);
    });
  }

  async recordRenewal(input: { certificate: CertificateRecord; at: Millis }): Promise<void> {
    return this.#enqueue(() => this.#storeCert(input.certificate));
  }
}
