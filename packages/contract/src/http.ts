import { z } from "zod";

/** Every error body the HTTP API sends: a stable code, a message and, when there is one, what to do next. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().describe("Stable error code, see docs/errors.md"),
      message: z.string(),
      hint: z.string().optional().describe("What to do next"),
      requestId: z.string().optional(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      challenge: z
        .object({ id: z.string(), methods: z.array(z.string()), expiresAt: z.string() })
        .optional()
        .describe("AUTH_MFA_REQUIRED only: the login challenge to answer with a second factor"),
    }),
  })
  .meta({ id: "ErrorBody" });
export type ErrorBody = z.infer<typeof ErrorBody>;

export const HealthResponse = z.object({ status: z.literal("ok"), version: z.string(), uptimeSeconds: z.number() });
export type HealthResponse = z.infer<typeof HealthResponse>;

export const ServiceState = z.enum(["created", "starting", "started", "stopping", "stopped", "failed"]);
export const ReadyResponse = z.object({
  ready: z.boolean(),
  services: z.array(z.object({ name: z.string(), state: ServiceState })),
});
export type ReadyResponse = z.infer<typeof ReadyResponse>;

/** Scopes an API token may carry. Roles (a later issue) are bundles of these. */
export const Scope = z.enum(["read", "write", "admin"]);
export type Scope = z.infer<typeof Scope>;

export const LoginRequest = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(1024),
    totp: z
      .string()
      .regex(/^\d{6}$/)
      .optional()
      .describe("The current TOTP code, to log in in one step"),
    recoveryCode: z.string().min(1).max(64).optional().describe("A one-time recovery code instead of a TOTP code"),
    scopes: z.array(Scope).min(1).max(3).optional(),
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .optional(),
    label: z.string().max(64).optional(),
  })
  .strict();
export type LoginRequest = z.infer<typeof LoginRequest>;

export const TokenResponse = z.object({
  token: z.string().describe("Bearer token; shown once, stored only as a hash"),
  tokenId: z.string(),
  operator: z.string(),
  scopes: z.array(Scope),
  expiresAt: z.string(),
  mustChangePassword: z.boolean(),
  mfaEnrollmentRequired: z
    .boolean()
    .describe("True until the operator enrols a second factor; the token then works only for enrolment"),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

export const ChangePasswordRequest = z
  .object({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().min(1).max(1024) })
  .strict();
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequest>;

export const WhoAmIResponse = z.object({
  operator: z.string(),
  tokenId: z.string(),
  scopes: z.array(Scope),
  expiresAt: z.string(),
  role: z.string(),
  sites: z.array(z.string()).describe('Sites the operator may see; ["*"] means every site'),
  via: z.enum(["token", "session"]),
  mfa: z.boolean().describe("Whether this token or session was opened with a second factor"),
});
export type WhoAmIResponse = z.infer<typeof WhoAmIResponse>;

export const StatusResponse = z.object({
  version: z.string(),
  startedAt: z.string(),
  uptimeSeconds: z.number(),
  dataDir: z.string(),
  store: z.object({ engine: z.string(), schemaVersion: z.number() }),
  counts: z.object({ devices: z.number(), operators: z.number() }),
  services: ReadyResponse.shape.services,
});
export type StatusResponse = z.infer<typeof StatusResponse>;

export const AuditEntryDto = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string().describe('Operator name, "system", "anonymous", an API token id, or a device id'),
  action: z.string().describe("The signal name, e.g. device.registered, or the audit log's own action"),
  target: z.string().nullable(),
  outcome: z.string().describe("success, failure or denied"),
  details: z.record(z.string(), z.unknown()).describe("The signal's facts; secrets are never recorded"),
  prevHash: z.string(),
  hash: z.string().describe("SHA-256 over the entry and prevHash; see docs/operations.md"),
});
export type AuditEntryDto = z.infer<typeof AuditEntryDto>;

export const AuditListQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0).describe("Cursor: the last seq of the previous page (0: from the start)"),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type AuditListQuery = z.infer<typeof AuditListQuery>;

export const AuditListResponse = z.object({
  items: z.array(AuditEntryDto),
  next: z.number().int().nullable(),
  head: z.number().int().describe("The seq of the newest entry (0 when the log is empty)"),
});
export type AuditListResponse = z.infer<typeof AuditListResponse>;

export const DeviceState = z.enum(["pending", "active", "quarantined", "revoked"]);
export const CertificateDto = z.object({
  serial: z.string(),
  subject: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  status: z.enum(["valid", "expired", "revoked", "not-yet-valid"]),
  revokedAt: z.string().nullable(),
  revocationReason: z.string().nullable(),
});
export type CertificateDto = z.infer<typeof CertificateDto>;

export const AttestationMethod = z.enum(["manufacturer-certificate", "pre-registered-key", "claim-token"]);

export const DeviceDto = z.object({
  id: z.string(),
  site: z.string().describe("The site the device belongs to; operators see only their sites' devices"),
  profile: z.string().nullable(),
  state: DeviceState,
  firmwareVersion: z.string().nullable(),
  createdAt: z.string(),
  lastSeenAt: z.string().nullable(),
  enrolledAt: z.string().nullable(),
  attestationMethod: AttestationMethod.nullable(),
  attestationStrength: z.number().nullable(),
  keyType: z.string().nullable(),
  sbomRef: z.string().nullable(),
  manufacturerId: z.string().nullable(),
  preregisteredKeySha256: z.string().nullable(),
  certificate: CertificateDto.nullable().describe("The device's newest certificate"),
});
export type DeviceDto = z.infer<typeof DeviceDto>;

export const DeviceListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: z.string().max(128).optional().describe("Cursor: the last device id of the previous page"),
    state: DeviceState.optional(),
  })
  .strict();
export type DeviceListQuery = z.infer<typeof DeviceListQuery>;

export const DeviceListResponse = z.object({ items: z.array(DeviceDto), next: z.string().nullable() });
export type DeviceListResponse = z.infer<typeof DeviceListResponse>;

export const RegisterDeviceRequest = z
  .object({
    id: z.string().min(1).max(128),
    profile: z.string().min(1).max(64).optional(),
    site: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/)
      .optional()
      .describe("Default: the operator's only site, else `default`"),
  })
  .strict();
export type RegisterDeviceRequest = z.infer<typeof RegisterDeviceRequest>;

export const RevokeDeviceRequest = z
  .object({
    reason: z
      .enum(["unspecified", "keyCompromise", "cessationOfOperation", "superseded", "affiliationChanged"])
      .default("unspecified"),
  })
  .strict();
export type RevokeDeviceRequest = z.infer<typeof RevokeDeviceRequest>;
export const RevokeDeviceResponse = z.object({ device: z.string(), revokedSerials: z.array(z.string()) });

export const PreregisterRequest = z
  .object({
    csv: z
      .string()
      .min(1)
      .max(16 * 1024 * 1024)
      .describe("device_id,public_key_sha256[,profile] per line"),
    site: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/)
      .optional()
      .describe("Site of the imported devices. Default: the operator's only site, else `default`"),
  })
  .strict();
export const PreregisterResponse = z.object({ imported: z.number() });

export const ManufacturerDto = z.object({
  id: z.string(),
  name: z.string(),
  caSubject: z.string(),
  caSha256: z.string(),
  caNotAfter: z.string(),
  serialAllowlist: z.array(z.string()).nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type ManufacturerDto = z.infer<typeof ManufacturerDto>;
export const AddManufacturerRequest = z
  .object({
    name: z.string().min(1).max(128),
    caPem: z
      .string()
      .min(1)
      .max(64 * 1024),
    serialAllowlist: z.array(z.string().min(1).max(64)).max(1_000_000).optional(),
  })
  .strict();
export type AddManufacturerRequest = z.infer<typeof AddManufacturerRequest>;

export const CreateTokensRequest = z
  .object({
    profile: z.string().min(1).max(64),
    deviceId: z.string().min(1).max(128).optional(),
    ttlSeconds: z
      .number()
      .int()
      .min(60)
      .max(90 * 24 * 3600)
      .default(3600),
    count: z.number().int().min(1).max(10_000).default(1),
  })
  .strict();
export type CreateTokensRequest = z.infer<typeof CreateTokensRequest>;
export const CreateTokensResponse = z.object({
  tokens: z.array(z.string()).describe("Shown once; stored only as hashes"),
  profile: z.string(),
  deviceId: z.string().nullable(),
  expiresAt: z.string(),
});
export type CreateTokensResponse = z.infer<typeof CreateTokensResponse>;
export const EnrollmentTokenDto = z.object({
  id: z.string(),
  profile: z.string(),
  deviceId: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  usedAt: z.string().nullable(),
  usedByDevice: z.string().nullable(),
  createdBy: z.string(),
});
export type EnrollmentTokenDto = z.infer<typeof EnrollmentTokenDto>;

export const CaInfoResponse = z.object({
  root: z.object({ subject: z.string(), sha256: z.string(), notAfter: z.string(), keyInDataDir: z.boolean() }),
  issuing: z.object({ subject: z.string(), sha256: z.string(), notAfter: z.string() }),
  deviceCertValidityDays: z.number(),
});
export type CaInfoResponse = z.infer<typeof CaInfoResponse>;

export const TrustTier = z.enum(["quarantine", "restricted", "standard", "trusted"]);
export const TrustThresholds = z.object({ restricted: z.number(), standard: z.number(), trusted: z.number() });
export const TrustEvidenceDto = z.object({
  signal: z.string().describe("The signal the evidence came from, e.g. finding.raised"),
  at: z.string(),
  ref: z.string().nullable().describe("Finding id, advisory id or certificate serial, when there is one"),
  link: z.string().nullable().describe("Where to read more (an advisory's OSV page), when there is one"),
  summary: z.string(),
});
export const TrustFactorDto = z.object({
  id: z.string(),
  title: z.string(),
  weight: z.number().describe("Weight under the device's vertical; all weights sum to 1"),
  value: z.number().describe("0..1: how good this factor's evidence is"),
  contribution: z.number().describe("Score points given: 100 x weight x value"),
  lost: z.number().describe("Score points this factor could give and does not"),
  detail: z.string(),
  evidence: z.array(TrustEvidenceDto),
});
export const TrustHistoryDto = z.object({
  at: z.string(),
  score: z.number(),
  tier: TrustTier,
  from: TrustTier.nullable().describe("The tier before, when this entry changed it"),
  reasons: z.array(z.string()),
});
export const DeviceTrustResponse = z.object({
  device: z.string(),
  score: z.number().describe("0..100"),
  tier: TrustTier.describe("The tier in force: the score's tier, lowered by any ceiling"),
  scoreTier: TrustTier.describe("The tier the score alone maps to"),
  vertical: z.string(),
  thresholds: TrustThresholds,
  ceilings: z.array(z.object({ tier: TrustTier, reason: z.string(), evidence: z.array(TrustEvidenceDto) })),
  quarantineAwaitsApproval: z.boolean(),
  connected: z.boolean(),
  factors: z.array(TrustFactorDto),
  history: z.array(TrustHistoryDto).describe("Newest first"),
});
export type DeviceTrustResponse = z.infer<typeof DeviceTrustResponse>;
export const TrustSummaryResponse = z.object({
  devices: z.number().int(),
  tiers: z.object({ quarantine: z.number(), restricted: z.number(), standard: z.number(), trusted: z.number() }),
  thresholds: TrustThresholds,
  lowest: z
    .array(z.object({ device: z.string(), score: z.number(), tier: TrustTier, vertical: z.string() }))
    .describe("The lowest-scored devices, lowest first"),
});
export type TrustSummaryResponse = z.infer<typeof TrustSummaryResponse>;
