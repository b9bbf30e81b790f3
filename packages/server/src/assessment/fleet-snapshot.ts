import type { DeviceId, Millis } from "../core/index.js";
import type { CertificateRecord, DeviceRecord } from "../identity/index.js";
import type { Profile } from "../policy/index.js";
import type { FindingRecord, SbomSummary } from "./ports.js";

/** A CA certificate as the checks see it (root, issuing). */
export interface CaCertificateView {
  readonly name: "root" | "issuing";
  readonly subject: string;
  readonly notBefore: Millis;
  readonly notAfter: Millis;
}

/** A claim token as the checks see it (never its secret). Enrollment's token records fit it. */
export interface EnrollmentTokenView {
  readonly id: string;
  readonly profile: string;
  readonly deviceId: string | null;
  readonly createdAt: Millis;
  readonly expiresAt: Millis;
  readonly usedAt: Millis | null;
}

/** A live device session as the checks see it. The gateway's `sessions()` fits it. */
export interface LiveSessionView {
  readonly device: string;
  readonly serial: string;
  readonly remote: string;
}

/**
 * Port: the gateway's list of live sessions. Absent (undefined) when the MQTT gateway is
 * disabled; the "revoked certificate still connected" check then says "not applicable".
 */
export interface LiveSessions {
  sessions(): readonly LiveSessionView[];
}

/** A signal recorded in the audit log, as the checks read it back. */
export interface RecordedSignal {
  readonly at: Millis;
  readonly action: string;
  readonly target: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface CheckSettings {
  readonly caExpiryWarningDays: number;
  readonly certExpiryWarningDays: number;
  readonly deviceCertValidityDays: number;
  readonly tokenMaxTtlHours: number;
  readonly tokenUnusedDays: number;
  readonly mqttEnabled: boolean;
}

/**
 * Everything the audit checks and the compliance mapping look at, read once per run so that
 * every check sees the same moment. Checks are pure functions of it.
 */
export interface FleetSnapshot {
  readonly now: Millis;
  readonly devices: readonly DeviceRecord[];
  /** The newest certificate of each device that has one. */
  readonly certificates: ReadonlyMap<DeviceId, CertificateRecord>;
  readonly ca: readonly CaCertificateView[];
  readonly profiles: ReadonlyMap<string, Profile>;
  readonly tokens: readonly EnrollmentTokenView[];
  /** Live sessions, or null when there is no gateway to ask. */
  readonly sessions: readonly LiveSessionView[] | null;
  /** The stored certificate of each live session's serial (absent: unknown to the store). */
  readonly sessionCertificates: ReadonlyMap<string, CertificateRecord>;
  readonly auditEnabled: boolean;
  readonly sboms: readonly SbomSummary[];
  readonly openFindings: readonly FindingRecord[];
  readonly advisoryCount: number;
  readonly lastAdvisoryImportAt: Millis | null;
  /** Recent signals of interest from the audit log (cloned identities, client-id refusals). */
  readonly recentSignals: readonly RecordedSignal[];
  readonly settings: CheckSettings;
}
