import {
  CreateCampaignRequest,
  ErrorBody,
  OtaArtifactDto,
  OtaArtifactQuery,
  OtaCampaignDeviceDto,
  OtaCampaignDto,
  OtaKeysRequest,
  OtaKeysResponse,
  OtaRotateRequest,
} from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyRequest } from "fastify";
import { createReadStream } from "node:fs";
import type { TLSSocket } from "node:tls";
import { z } from "zod";
import { VigilError, iso, type Clock, type DeviceId } from "../../core/index.js";
import {
  presentedChain,
  type CertificateAuthority,
  type CertificateRepository,
  type DeviceRecord,
  type DeviceRepository,
} from "../../identity/index.js";
import type { OtaArtifactRecord, UpdateRepository, CampaignService } from "../../ota/index.js";
import type { Principal } from "../../operators/index.js";

export interface OtaRouteDeps {
  readonly updates: UpdateRepository;
  readonly campaigns: CampaignService;
  readonly ca: CertificateAuthority;
  readonly certificates: CertificateRepository;
  readonly deviceRepository: DeviceRepository;
  readonly clock: Clock;
  readonly maxImageBytes: number;
}

function artifactDto(a: OtaArtifactRecord): OtaArtifactDto {
  return {
    name: a.name,
    version: a.version,
    profile: a.profile,
    hardware: [...a.hardware],
    minVersion: a.minVersion,
    counter: a.counter,
    sha256: a.sha256,
    length: a.length,
    sbomRef: a.sbomRef,
    createdAt: iso(a.createdAt),
    createdBy: a.createdBy,
  };
}

const by = (request: FastifyRequest) => (request.principal as Principal).username;
const IdParams = z.object({ id: z.string().min(1).max(64) });
const NameParams = z.object({ name: z.string().min(1).max(128) });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** Operator routes under /api/v1/ota: keys, artifacts, campaigns (RBAC: firmware:*; keys: keys:rotate). */
export const otaRoutes: FastifyPluginAsyncZod<OtaRouteDeps> = async (app, deps) => {
  // Firmware images travel as raw bytes; the manifest rides in the query string.
  app.addContentTypeParser(
    "application/octet-stream",
    { parseAs: "buffer", bodyLimit: deps.maxImageBytes },
    (_req, body, done) => {
      done(null, body);
    },
  );

  app.get(
    "/keys",
    {
      config: { permission: "firmware:read" },
      schema: {
        tags: ["ota"],
        summary: "The OTA root and targets keys in force (ids, versions, expiry).",
        response: { 200: OtaKeysResponse, ...errors },
      },
    },
    async () => deps.updates.keysInfo(),
  );

  app.post(
    "/keys",
    {
      config: { permission: "keys:rotate" },
      schema: {
        tags: ["ota"],
        summary: "Create the OTA root and targets signing keys (sealed in the key vault) and sign root v1.",
        body: OtaKeysRequest,
        response: { 201: OtaKeysResponse, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await deps.updates.keysInit(request.body.algorithm, by(request))),
  );

  app.post(
    "/keys/rotate",
    {
      config: { permission: "keys:rotate" },
      schema: {
        tags: ["ota"],
        summary: "Rotate the targets key, the root key or both: a new root version signed by the old and new root keys.",
        body: OtaRotateRequest,
        response: { 200: OtaKeysResponse, ...errors },
      },
    },
    async (request) => deps.updates.rotate(request.body.role, request.body.algorithm, by(request)),
  );

  app.post(
    "/artifacts",
    {
      config: { permission: "firmware:write" },
      bodyLimit: deps.maxImageBytes,
      schema: {
        tags: ["ota"],
        summary: "Add a firmware image (application/octet-stream body) with its manifest (query); re-signs the targets metadata.",
        querystring: OtaArtifactQuery,
        response: { 201: OtaArtifactDto, ...errors, 413: ErrorBody, 415: ErrorBody },
      },
    },
    async (request, reply) => {
      if (!Buffer.isBuffer(request.body)) {
        throw new VigilError("REQUEST_UNSUPPORTED_MEDIA_TYPE", "a firmware image is sent as application/octet-stream", {
          hint: "Send the image bytes as the body with Content-Type: application/octet-stream.",
        });
      }
      const q = request.query;
      const artifact = await deps.updates.addArtifact(
        request.body,
        {
          version: q.version,
          profile: q.profile,
          hardware:
            q.hardware === undefined
              ? []
              : q.hardware
                  .split(",")
                  .map((h) => h.trim())
                  .filter(Boolean),
          minVersion: q.minVersion,
          counter: q.counter,
          sbomRef: q.sbomRef,
          name: q.name,
        },
        by(request),
      );
      return reply.status(201).send(artifactDto(artifact));
    },
  );

  app.get(
    "/artifacts",
    {
      config: { permission: "firmware:read" },
      schema: {
        tags: ["ota"],
        summary: "Every firmware artifact.",
        response: { 200: z.object({ items: z.array(OtaArtifactDto) }), ...errors },
      },
    },
    async () => ({ items: (await deps.updates.listArtifacts()).map(artifactDto) }),
  );

  app.get(
    "/artifacts/:name",
    {
      config: { permission: "firmware:read" },
      schema: {
        tags: ["ota"],
        summary: "One firmware artifact.",
        params: NameParams,
        response: { 200: OtaArtifactDto, ...errors },
      },
    },
    async (request) => artifactDto(await deps.updates.getArtifact(request.params.name)),
  );

  app.post(
    "/campaigns",
    {
      config: { permission: "firmware:write" },
      schema: {
        tags: ["ota"],
        summary: "Create an update campaign (draft): its targets split into a canary and waves.",
        body: CreateCampaignRequest,
        response: { 201: OtaCampaignDto, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await deps.campaigns.create(request.body, by(request))),
  );

  app.get(
    "/campaigns",
    {
      config: { permission: "firmware:read" },
      schema: {
        tags: ["ota"],
        summary: "Every campaign with its counts.",
        response: { 200: z.object({ items: z.array(OtaCampaignDto) }), ...errors },
      },
    },
    async () => ({ items: await deps.campaigns.list() }),
  );

  app.get(
    "/campaigns/:id",
    {
      config: { permission: "firmware:read" },
      schema: {
        tags: ["ota"],
        summary: "One campaign: state, wave, counts per device state.",
        params: IdParams,
        response: { 200: OtaCampaignDto, ...errors },
      },
    },
    async (request) => deps.campaigns.status(request.params.id),
  );

  app.get(
    "/campaigns/:id/devices",
    {
      config: { permission: "firmware:read" },
      schema: {
        tags: ["ota"],
        summary: "Each targeted device's wave and state in the campaign.",
        params: IdParams,
        response: { 200: z.object({ items: z.array(OtaCampaignDeviceDto) }), ...errors },
      },
    },
    async (request) => ({ items: await deps.campaigns.devices(request.params.id) }),
  );

  const actions = {
    start: (id: string, who: string) => deps.campaigns.startCampaign(id, who),
    pause: (id: string, who: string) => deps.campaigns.pause(id, who),
    resume: (id: string, who: string) => deps.campaigns.resume(id, who),
    rollback: (id: string, who: string) => deps.campaigns.rollback(id, who),
    cancel: (id: string, who: string) => deps.campaigns.cancel(id, who),
  } as const;
  for (const [action, run] of Object.entries(actions)) {
    app.post(
      `/campaigns/:id/${action}`,
      {
        config: { permission: "firmware:write" },
        schema: {
          tags: ["ota"],
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} a campaign.`,
          params: IdParams,
          response: { 200: OtaCampaignDto, ...errors },
        },
      },
      async (request) => run(request.params.id, by(request)),
    );
  }
};

/**
 * Device routes under /ota/v1: metadata and images, public to operators' auth (no bearer
 * token) but served only to a device presenting a valid Vigil device certificate over
 * mutual TLS (NIST IR 8259A: device identification; ETSI EN 303 645 provision 5.3-2:
 * updates delivered over a secure channel).
 */
export const otaDeviceRoutes: FastifyPluginAsyncZod<OtaRouteDeps> = async (app, deps) => {
  const verified = new WeakMap<TLSSocket, { serial: string; device: DeviceId; notAfter: number }>();

  /** The device behind this TLS connection, checked as the gateway checks it at CONNECT. */
  async function deviceOf(request: FastifyRequest): Promise<DeviceRecord> {
    const socket = request.raw.socket as TLSSocket;
    const now = deps.clock.now();
    let known = verified.get(socket);
    if (known === undefined || now >= known.notAfter) {
      const leaf = presentedChain(socket)[0];
      const refuse = (why: string) =>
        new VigilError("OTA_DEVICE_AUTH_REQUIRED", `firmware is served to enrolled devices only: ${why}`, {
          hint: "Connect with the device's Vigil certificate (mutual TLS), as the device SDK does.",
        });
      if (leaf === undefined) throw refuse("no client certificate was presented");
      if (!deps.ca.issuedByUs(leaf)) throw refuse("the client certificate was not issued by Vigil");
      const notAfter = Date.parse(leaf.validTo);
      if (now < Date.parse(leaf.validFrom) || now >= notAfter) {
        throw new VigilError("IDENTITY_CERT_EXPIRED", "the device certificate has expired or is not yet valid", {
          hint: "Renew it (EST simplereenroll) or enroll again.",
        });
      }
      const serial = leaf.serialNumber.toLowerCase();
      const record = await deps.certificates.get(serial);
      if (record === undefined || !leaf.raw.equals(pemToDer(record.pem))) {
        throw new VigilError("IDENTITY_CERT_UNKNOWN", "the device certificate is not one Vigil has on record", {
          hint: "Enroll the device again.",
        });
      }
      if (record.revokedAt !== null) throw new VigilError("IDENTITY_CERT_REVOKED", "the device certificate has been revoked");
      known = { serial, device: record.deviceId, notAfter };
      verified.set(socket, known);
    }
    const device = await deps.deviceRepository.get(known.device);
    if (device === undefined || device.state === "revoked") {
      throw new VigilError("DEVICE_REVOKED", `device ${known.device} has been revoked`, { hint: "Re-provision the device." });
    }
    const revoked = await deps.certificates.get(known.serial);
    if (revoked?.revokedAt != null) throw new VigilError("IDENTITY_CERT_REVOKED", "the device certificate has been revoked");
    return device;
  }

  const deviceErrors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 416: ErrorBody };
  // Bodies are sent as prepared bytes or a file stream (never re-serialised).
  const json = z.unknown().describe("JSON metadata (see the OTA wire formats in @vigil/contract)");
  const bytes = z.unknown().describe("the image bytes (application/octet-stream)");

  app.get(
    "/root/:version",
    {
      config: { public: true },
      schema: {
        tags: ["ota-device"],
        summary: "Root metadata of this version (device provisioning). Mutual TLS with a device certificate.",
        params: z.object({ version: z.coerce.number().int().min(1).max(1_000_000) }),
        response: { 200: json, ...deviceErrors },
      },
    },
    async (request, reply) => {
      await deviceOf(request);
      return reply
        .type("application/json")
        .header("cache-control", "no-store")
        .send(JSON.stringify(await deps.updates.root(request.params.version)));
    },
  );

  app.get(
    "/metadata",
    {
      config: { public: true },
      schema: {
        tags: ["ota-device"],
        summary: "Every root newer than `root`, then the current targets metadata (TUF). Mutual TLS with a device certificate.",
        querystring: z.object({ root: z.coerce.number().int().min(0).max(1_000_000).default(0) }).strict(),
        response: { 200: json, ...deviceErrors },
      },
    },
    async (request, reply) => {
      await deviceOf(request);
      const body = await deps.updates.bundle(request.query.root);
      return reply.type("application/json").header("cache-control", "no-store").send(body);
    },
  );

  app.get(
    "/images/:name",
    {
      config: { public: true },
      schema: {
        tags: ["ota-device"],
        summary:
          "A firmware image; single byte ranges (RFC 9110 §14) make downloads resumable. Mutual TLS with a device certificate.",
        params: NameParams,
        response: { 200: bytes, 206: bytes, ...deviceErrors },
      },
    },
    async (request, reply) => {
      const device = await deviceOf(request);
      const artifact = await deps.updates.getArtifact(request.params.name);
      if (device.profile !== artifact.profile) {
        throw new VigilError("OTA_DEVICE_NOT_ELIGIBLE", `artifact ${artifact.name} is for profile ${artifact.profile}`, {
          hint: "A device downloads only the firmware of its own profile.",
        });
      }
      const size = artifact.length;
      const etag = `"${artifact.sha256}"`;
      reply.header("accept-ranges", "bytes").header("etag", etag).header("cache-control", "no-store");
      const range = parseRange(request.headers.range, request.headers["if-range"], etag, size);
      if (range === "unsatisfiable") {
        reply.header("content-range", `bytes */${size}`);
        throw new VigilError("OTA_RANGE_NOT_SATISFIABLE", `the image has ${size} bytes`, {
          hint: "Ask for a range inside the image, or none to get all of it.",
        });
      }
      const [start, end] = range ?? [0, size - 1];
      if (range !== undefined) reply.status(206).header("content-range", `bytes ${start}-${end}/${size}`);
      reply.header("content-length", String(end - start + 1)).type("application/octet-stream");
      return reply.send(createReadStream(deps.updates.imagePath(artifact), { start, end }));
    },
  );
};

/**
 * One byte range (RFC 9110 §14.1.2), or undefined to send the whole image: no Range header,
 * a stale If-Range (§13.1.5: the image changed), a malformed or multi-range header (§14.2
 * lets a server ignore it).
 */
export function parseRange(
  header: string | undefined,
  ifRange: string | string[] | undefined,
  etag: string,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  if (header === undefined || (ifRange !== undefined && ifRange !== etag)) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || start > end) return "unsatisfiable";
  return [start, end];
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ""), "base64");
}
