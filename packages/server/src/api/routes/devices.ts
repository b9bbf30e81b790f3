import {
  CertificateDto,
  DeviceDto,
  DeviceListQuery,
  DeviceListResponse,
  ErrorBody,
  PreregisterRequest,
  PreregisterResponse,
  RegisterDeviceRequest,
  RevokeDeviceRequest,
  RevokeDeviceResponse,
} from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { VigilError, iso, type Clock } from "../../core/index.js";
import type { EnrollmentService } from "../../enrollment/index.js";
import type {
  CertificateRecord,
  CertificateRepository,
  DeviceRecord,
  DeviceRegistry,
  IdentityService,
} from "../../identity/index.js";
import { DEFAULT_SITE, siteAllowed, siteFilter, type Principal } from "../../operators/index.js";

const principalOf = (request: { principal?: Principal }) => request.principal as Principal;

/** The site a new device goes to: the one asked for, else the operator's only site, else `default`. */
function targetSite(principal: Principal, asked: string | undefined): string {
  const site = asked ?? (principal.sites.length === 1 && principal.sites[0] !== "*" ? principal.sites[0]! : DEFAULT_SITE);
  if (!siteAllowed(principal.sites, site)) {
    throw new VigilError("AUTH_PERMISSION_DENIED", `operator ${principal.username} is not bound to site ${site}`, {
      hint: `Use one of your sites: ${principal.sites.join(", ")}.`,
    });
  }
  return site;
}

export function certificateDto(c: CertificateRecord, now: number): CertificateDto {
  const status = c.revokedAt !== null ? "revoked" : now >= c.notAfter ? "expired" : now < c.notBefore ? "not-yet-valid" : "valid";
  return {
    serial: c.serial,
    subject: c.subject,
    notBefore: iso(c.notBefore),
    notAfter: iso(c.notAfter),
    status,
    revokedAt: c.revokedAt === null ? null : iso(c.revokedAt),
    revocationReason: c.revocationReason,
  };
}

function toDto(d: DeviceRecord, cert: CertificateRecord | undefined, now: number): DeviceDto {
  return {
    id: d.id,
    site: d.site,
    profile: d.profile,
    state: d.state,
    firmwareVersion: d.firmwareVersion,
    createdAt: iso(d.createdAt),
    lastSeenAt: d.lastSeenAt === null ? null : iso(d.lastSeenAt),
    enrolledAt: d.enrolledAt === null ? null : iso(d.enrolledAt),
    attestationMethod: d.attestationMethod,
    attestationStrength: d.attestationStrength,
    keyType: d.keyType,
    sbomRef: d.sbomRef,
    manufacturerId: d.manufacturerId,
    preregisteredKeySha256: d.expectedKeySha256,
    certificate: cert === undefined ? null : certificateDto(cert, now),
  };
}

const IdParams = z.object({ id: z.string().min(1).max(256) });

export const deviceRoutes: FastifyPluginAsyncZod<{
  devices: DeviceRegistry;
  identity: IdentityService;
  enrollment: EnrollmentService;
  certificates: CertificateRepository;
  clock: Clock;
}> = async (app, deps) => {
  app.get(
    "/",
    {
      config: { permission: "devices:read" },
      schema: {
        tags: ["devices"],
        summary: "List devices with their certificate state, ordered by id, one page at a time (only the caller's sites).",
        querystring: DeviceListQuery,
        response: { 200: DeviceListResponse, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const page = await deps.devices.list({ ...request.query, sites: siteFilter(principalOf(request).sites) });
      const certs = await deps.certificates.latestForDevices(page.items.map((d) => d.id));
      const now = deps.clock.now();
      return { items: page.items.map((d) => toDto(d, certs.get(d.id), now)), next: page.next };
    },
  );

  app.get(
    "/:id",
    {
      config: { permission: "devices:read" },
      schema: {
        tags: ["devices"],
        summary: "One device, with its newest certificate.",
        params: IdParams,
        response: { 200: DeviceDto, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const device = await deps.devices.get(request.params.id, siteFilter(principalOf(request).sites));
      const certs = await deps.certificates.latestForDevices([device.id]);
      return toDto(device, certs.get(device.id), deps.clock.now());
    },
  );

  app.get(
    "/:id/certificates",
    {
      config: { permission: "devices:read" },
      schema: {
        tags: ["devices"],
        summary: "Every certificate issued to a device, newest first.",
        params: IdParams,
        response: { 200: z.object({ items: z.array(CertificateDto) }), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      await deps.devices.get(request.params.id, siteFilter(principalOf(request).sites));
      const now = deps.clock.now();
      return { items: (await deps.identity.certificatesOf(request.params.id)).map((c) => certificateDto(c, now)) };
    },
  );

  app.post(
    "/",
    {
      config: { permission: "devices:write" },
      schema: {
        tags: ["devices"],
        summary: "Register a device by id; it stays pending until it enrolls (any attestation).",
        body: RegisterDeviceRequest,
        response: { 201: DeviceDto, 400: ErrorBody, 401: ErrorBody, 409: ErrorBody, 413: ErrorBody },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const site = targetSite(principal, request.body.site);
      const device = await deps.devices.register({ ...request.body, site, by: principal.username });
      return reply.status(201).send(toDto(device, undefined, deps.clock.now()));
    },
  );

  app.post(
    "/import",
    {
      bodyLimit: 16 * 1024 * 1024,
      config: { permission: "devices:write" },
      schema: {
        tags: ["devices"],
        summary:
          "Pre-register devices from CSV (device_id,public_key_sha256[,profile]): only a CSR with that key enrolls. All rows or none.",
        body: PreregisterRequest,
        response: { 201: PreregisterResponse, 400: ErrorBody, 401: ErrorBody, 409: ErrorBody, 413: ErrorBody },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const site = targetSite(principal, request.body.site);
      const imported = await deps.enrollment.preregister(request.body.csv, principal.username, site);
      return reply.status(201).send({ imported });
    },
  );

  app.post(
    "/:id/revoke",
    {
      config: { permission: "devices:revoke" },
      schema: {
        tags: ["devices"],
        summary: "Revoke a device and all its certificates; its live sessions are cut at once.",
        params: IdParams,
        body: RevokeDeviceRequest,
        response: { 200: RevokeDeviceResponse, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      await deps.devices.get(request.params.id, siteFilter(principalOf(request).sites));
      const serials = await deps.identity.revokeDevice(request.params.id, request.body.reason, principalOf(request).username);
      return { device: request.params.id, revokedSerials: serials };
    },
  );
};
