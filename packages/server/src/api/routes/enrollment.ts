import {
  AddManufacturerRequest,
  CaInfoResponse,
  CreateTokensRequest,
  CreateTokensResponse,
  EnrollmentTokenDto,
  ErrorBody,
  ManufacturerDto,
} from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { X509Certificate } from "node:crypto";
import { z } from "zod";
import { iso } from "../../core/index.js";
import type { EnrollmentService, ManufacturerRecord } from "../../enrollment/index.js";
import type { CertificateAuthority } from "../../identity/index.js";
import type { Principal } from "../../operators/index.js";

function manufacturerDto(m: ManufacturerRecord): ManufacturerDto {
  const cert = new X509Certificate(m.caPem);
  return {
    id: m.id,
    name: m.name,
    caSubject: cert.subject.replace(/\n/g, ", "),
    caSha256: m.caSha256,
    caNotAfter: new Date(cert.validTo).toISOString(),
    serialAllowlist: m.serialAllowlist === null ? null : [...m.serialAllowlist],
    createdAt: iso(m.createdAt),
    revokedAt: m.revokedAt === null ? null : iso(m.revokedAt),
  };
}

const by = (request: { principal?: Principal }) => (request.principal as Principal).username;

export const enrollmentRoutes: FastifyPluginAsyncZod<{
  enrollment: EnrollmentService;
  ca: CertificateAuthority;
  deviceCertValidityDays: number;
}> = async (app, deps) => {
  app.get(
    "/api/v1/manufacturers",
    {
      config: { permission: "enrollment:read" },
      schema: {
        tags: ["enrollment"],
        summary: "Manufacturer CAs trusted for factory-certificate attestation.",
        response: { 200: z.object({ items: z.array(ManufacturerDto) }) },
      },
    },
    async () => ({ items: (await deps.enrollment.listManufacturers()).map(manufacturerDto) }),
  );

  app.post(
    "/api/v1/manufacturers",
    {
      config: { permission: "manufacturers:write" },
      schema: {
        tags: ["enrollment"],
        summary: "Register a manufacturer CA (IEEE 802.1AR IDevID style), optionally with a serial allowlist.",
        body: AddManufacturerRequest,
        response: { 201: ManufacturerDto, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          manufacturerDto(
            await deps.enrollment.addManufacturer({ ...request.body, serials: request.body.serialAllowlist, by: by(request) }),
          ),
        ),
  );

  app.post(
    "/api/v1/manufacturers/:id/revoke",
    {
      config: { permission: "manufacturers:write" },
      schema: {
        tags: ["enrollment"],
        summary: "Stop trusting a manufacturer CA for enrollment.",
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: ManufacturerDto, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => manufacturerDto(await deps.enrollment.revokeManufacturer(request.params.id, by(request))),
  );

  app.get(
    "/api/v1/enrollment-tokens",
    {
      config: { permission: "enrollment:read" },
      schema: {
        tags: ["enrollment"],
        summary: "Claim tokens (never their secrets).",
        querystring: z.object({ includeUsed: z.enum(["true", "false"]).default("false") }).strict(),
        response: { 200: z.object({ items: z.array(EnrollmentTokenDto) }), 400: ErrorBody },
      },
    },
    async (request) => ({
      items: (await deps.enrollment.listTokens(request.query.includeUsed === "true")).map((t) => ({
        id: t.id,
        profile: t.profile,
        deviceId: t.deviceId,
        createdAt: iso(t.createdAt),
        expiresAt: iso(t.expiresAt),
        usedAt: t.usedAt === null ? null : iso(t.usedAt),
        usedByDevice: t.usedByDevice,
        createdBy: t.createdBy,
      })),
    }),
  );

  app.post(
    "/api/v1/enrollment-tokens",
    {
      config: { permission: "enrollment:write" },
      schema: {
        tags: ["enrollment"],
        summary: "Create one-time, expiring claim tokens bound to a profile (and optionally a device id). Shown once.",
        body: CreateTokensRequest,
        response: { 201: CreateTokensResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const { tokens, expiresAt } = await deps.enrollment.createTokens({ ...request.body, by: by(request) });
      return reply
        .status(201)
        .send({ tokens, profile: request.body.profile, deviceId: request.body.deviceId ?? null, expiresAt: iso(expiresAt) });
    },
  );

  app.get(
    "/api/v1/ca",
    {
      config: { permission: "enrollment:read" },
      schema: { tags: ["enrollment"], summary: "Vigil's CA hierarchy.", response: { 200: CaInfoResponse } },
    },
    async () => ({
      root: {
        subject: deps.ca.root.subject.replace(/\n/g, ", "),
        sha256: deps.ca.root.fingerprint256,
        notAfter: new Date(deps.ca.root.validTo).toISOString(),
        keyInDataDir: deps.ca.hasRootKey,
      },
      issuing: {
        subject: deps.ca.issuing.subject.replace(/\n/g, ", "),
        sha256: deps.ca.issuing.fingerprint256,
        notAfter: new Date(deps.ca.issuing.validTo).toISOString(),
      },
      deviceCertValidityDays: deps.deviceCertValidityDays,
    }),
  );
};
