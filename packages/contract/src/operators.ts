import { z } from "zod";
import { Scope } from "./http.js";

/** Operator roles (RBAC): each is a fixed bundle of permissions, see docs/operators.md. */
export const Role = z.enum(["admin", "security-operator", "fleet-operator", "auditor", "device-integrator"]);
export type Role = z.infer<typeof Role>;

/** A site name, or "*" for every site. */
export const SiteName = z.string().regex(/^(\*|[a-z0-9][a-z0-9-]{0,63})$/, "a site is 1-64 of a-z, 0-9, '-', or *");

export const OperatorDto = z.object({
  username: z.string(),
  role: Role,
  sites: z.array(z.string()),
  disabled: z.boolean(),
  mustChangePassword: z.boolean(),
  mfa: z.object({ totp: z.boolean(), webauthn: z.number().int(), recoveryCodesLeft: z.number().int() }),
  createdAt: z.string(),
});
export type OperatorDto = z.infer<typeof OperatorDto>;

export const CreateOperatorRequest = z
  .object({
    username: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "1-64 of a-z, 0-9, '.', '_', '-'"),
    role: Role,
    sites: z.array(SiteName).min(1).max(64).default(["*"]),
  })
  .strict();
export type CreateOperatorRequest = z.infer<typeof CreateOperatorRequest>;

export const CreateOperatorResponse = z.object({
  operator: OperatorDto,
  oneTimePassword: z.string().describe("Shown once; the operator must change it, then enrol a second factor"),
});
export type CreateOperatorResponse = z.infer<typeof CreateOperatorResponse>;

export const OperatorListResponse = z.object({ items: z.array(OperatorDto) });
export type OperatorListResponse = z.infer<typeof OperatorListResponse>;

/** The second step of a login: answer an AUTH_MFA_REQUIRED challenge. */
export const MfaAnswerRequest = z
  .object({
    challengeId: z.string().min(1).max(128),
    totp: z
      .string()
      .regex(/^\d{6}$/)
      .optional(),
    recoveryCode: z.string().min(1).max(64).optional(),
  })
  .strict();
export type MfaAnswerRequest = z.infer<typeof MfaAnswerRequest>;

export const WebAuthnOptionsRequest = z.object({ challengeId: z.string().min(1).max(128) }).strict();

/** A WebAuthn credential response (PublicKeyCredential JSON), checked by the server's WebAuthn verifier. */
const CredentialJson = z.record(z.string(), z.unknown());

export const WebAuthnAssertionRequest = z.object({ challengeId: z.string().min(1).max(128), response: CredentialJson }).strict();
export type WebAuthnAssertionRequest = z.infer<typeof WebAuthnAssertionRequest>;

export const WebAuthnRegisterRequest = z
  .object({ response: CredentialJson, name: z.string().min(1).max(64).optional() })
  .strict();
export type WebAuthnRegisterRequest = z.infer<typeof WebAuthnRegisterRequest>;

/** WebAuthn options are passed to the browser's navigator.credentials as they are. */
export const WebAuthnOptionsResponse = z.record(z.string(), z.unknown());

export const TotpEnrollResponse = z.object({
  secret: z.string().describe("Base32 TOTP secret; shown once"),
  otpauthUri: z.string().describe("otpauth://totp/... for a QR code"),
});
export type TotpEnrollResponse = z.infer<typeof TotpEnrollResponse>;

export const TotpConfirmRequest = z.object({ code: z.string().regex(/^\d{6}$/) }).strict();

export const RecoveryCodesResponse = z.object({
  recoveryCodes: z.array(z.string()).describe("Shown once; each works once; stored only as hashes"),
});
export type RecoveryCodesResponse = z.infer<typeof RecoveryCodesResponse>;

export const WebAuthnRegisteredResponse = z.object({
  credentialId: z.string(),
  recoveryCodes: z.array(z.string()).describe("Only when this was the operator's first second factor"),
});

export const MfaStatusResponse = z.object({
  totp: z.boolean(),
  webauthn: z.array(z.object({ id: z.string(), name: z.string(), createdAt: z.string() })),
  recoveryCodesLeft: z.number().int(),
});

export const SessionRequest = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(1024),
    totp: z
      .string()
      .regex(/^\d{6}$/)
      .optional(),
    recoveryCode: z.string().min(1).max(64).optional(),
  })
  .strict();
export type SessionRequest = z.infer<typeof SessionRequest>;

export const SessionResponse = z.object({
  operator: z.string(),
  role: Role,
  expiresAt: z.string(),
  csrfToken: z.string().describe("Send it back as the X-CSRF-Token header on every state-changing request"),
  mustChangePassword: z.boolean(),
  mfaEnrollmentRequired: z.boolean(),
});
export type SessionResponse = z.infer<typeof SessionResponse>;

export const CreateApiTokenRequest = z
  .object({
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

export const KeyRotationResponse = z.object({
  masterKeyId: z.string().describe("Identifier of the new master key (never the key)"),
  previousMasterKeyId: z.string(),
  vaultItems: z.number().int(),
  dataKeys: z.number().int(),
});
export type KeyRotationResponse = z.infer<typeof KeyRotationResponse>;
