import type { AuditRepository } from "../audit/index.js";
import type { EnrollmentLedger, EnrollmentTokenRepository, ManufacturerRepository } from "../enrollment/index.js";
import type { CertificateRepository, DeviceRepository } from "../identity/index.js";
import type { OperatorRepository, TokenRepository } from "../operators/index.js";

/**
 * Everything Vigil persists, behind repository ports that each domain module declares.
 * SQLite is the embedded default; a PostgreSQL store will implement the same interface.
 * No SQL lives outside `store/`.
 */
export interface Store {
  readonly engine: "sqlite" | "postgres";
  /** Where the data lives, for status output (a file path or a redacted URL). */
  readonly location: string;
  readonly operators: OperatorRepository;
  readonly tokens: TokenRepository;
  readonly devices: DeviceRepository;
  readonly certificates: CertificateRepository;
  readonly manufacturers: ManufacturerRepository;
  readonly enrollmentTokens: EnrollmentTokenRepository;
  readonly enrollments: EnrollmentLedger;
  readonly audit: AuditRepository;
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
