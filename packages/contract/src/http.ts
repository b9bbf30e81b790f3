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

export const DeviceState = z.enum(["pending", "active", "quarantined", "revoked"]);
export const DeviceDto = z.object({
  id: z.string(),
  profile: z.string().nullable(),
  state: DeviceState,
  firmwareVersion: z.string().nullable(),
  createdAt: z.string(),
  lastSeenAt: z.string().nullable(),
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
  })
  .strict();
export type RegisterDeviceRequest = z.infer<typeof RegisterDeviceRequest>;
