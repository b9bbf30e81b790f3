import type { AuditRepository } from "../audit/index.js";
import type {
  EnrollmentLedger,
  EnrollmentTokenRepository,
  ManufacturerRepository,
  ReadmissionRepository,
} from "../enrollment/index.js";
import type { CertificateRepository, DataKeyRepository, DeviceRepository } from "../identity/index.js";
import type { MfaRepository, OperatorRepository, SessionRepository, TokenRepository } from "../operators/index.js";
import type { TrustRepository } from "../trust/index.js";
import type { OtaRepository } from "../ota/index.js";
import type { AssessmentRepository } from "../assessment/index.js";
import type { DeadLetterRepository, IncidentRepository } from "../response/index.js";
import type { DrillRepository } from "../signals/index.js";
import type { LegacyCredentialRepository } from "../gateway/legacy-passwords.js";

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
  readonly mfa: MfaRepository;
  readonly sessions: SessionRepository;
  /** Wrapped data keys of the sealed fields (envelope encryption of columns). */
  readonly dataKeys: DataKeyRepository;
  readonly devices: DeviceRepository;
  readonly certificates: CertificateRepository;
  readonly manufacturers: ManufacturerRepository;
  readonly enrollmentTokens: EnrollmentTokenRepository;
  readonly enrollments: EnrollmentLedger;
  readonly audit: AuditRepository;
  readonly trust: TrustRepository;
  readonly ota: OtaRepository;
  readonly assessment: AssessmentRepository;
  readonly incidents: IncidentRepository;
  /** Outgoing incident events that could not be delivered. */
  readonly deadLetters: DeadLetterRepository;
  /** MQTT passwords (argon2id) of legacy devices without a certificate. */
  readonly legacyCredentials: LegacyCredentialRepository;
  /** Revoked devices that may enroll again by passing the door's checks (absent: never). */
  readonly readmissions?: ReadmissionRepository;
  /** Drills (`vigil drill`), so that tagging survives a restart and is the same on every node (absent: in memory). */
  readonly drills?: DrillRepository;
  /** Mutual exclusion of periodic jobs: per process on SQLite, per cluster on PostgreSQL. */
  readonly jobs: JobLock;
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}

export type JobRun<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

/**
 * Runs a named job only where no other holder runs it at the same moment. On PostgreSQL the
 * holder is any node sharing the database (`pg_try_advisory_lock` on a dedicated
 * connection), so a job started by every node's timer runs on one of them; a job that must
 * run once per period also checks, inside `fn`, whether the period's run is already recorded.
 * Never waits: a busy job returns `{ ran: false }` at once.
 */
export interface JobLock {
  tryRun<T>(name: string, fn: () => Promise<T>): Promise<JobRun<T>>;
  /** The same as `tryRun`, under the name of the cluster module's JobLock port. */
  run<T>(name: string, fn: () => Promise<T>): Promise<JobRun<T>>;
}
