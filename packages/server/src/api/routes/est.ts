import { ErrorBody } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { TLSSocket } from "node:tls";
import { z } from "zod";
import { VigilError } from "../../core/index.js";
import { POSTURE_HEADER, type EnrollmentRequest, type EnrollmentService } from "../../enrollment/index.js";
import { certsOnly, presentedChain, type CertificateAuthority, type IdentityService } from "../../identity/index.js";

/** RFC 7030 §3.2.2: EST bodies are small; anything above 64 KiB is refused with 413. */
export const EST_BODY_LIMIT = 64 * 1024;

/**
 * CsrAttrs (RFC 7030 §4.5.2) telling clients what to put in a CSR: ecdsa-with-SHA256 and an
 * EC P-256 key (P-384 and RSA >= 2048 are accepted too). Hand-encoded DER:
 * SEQUENCE { OID 1.2.840.10045.4.3.2, SEQUENCE { OID 1.2.840.10045.2.1, SET { OID 1.2.840.10045.3.1.7 } } }
 */
const CSR_ATTRS = Buffer.from(
  "3021" + "06082a8648ce3d040302" + "3015" + "06072a8648ce3d0201" + "310a" + "06082a8648ce3d030107",
  "hex",
);

function base64Lines(der: Buffer): string {
  return der.toString("base64").replace(/(.{64})/g, "$1\n") + "\n";
}

export const estRoutes: FastifyPluginAsyncZod<{
  enrollment: EnrollmentService;
  ca: CertificateAuthority;
  identity: IdentityService;
}> = async (app, deps) => {
  // RFC 7030 §4.2.1: application/pkcs10, base64-encoded DER (the Content-Transfer-Encoding header is informative, RFC 8951).
  app.addContentTypeParser(
    ["application/pkcs10", "application/pkcs10; charset=utf-8"],
    { parseAs: "string", bodyLimit: EST_BODY_LIMIT },
    (_req, body, done) => {
      done(null, body);
    },
  );

  const estReply = {
    200: z.string(),
    400: ErrorBody,
    401: ErrorBody,
    403: ErrorBody,
    409: ErrorBody,
    413: ErrorBody,
    415: ErrorBody,
  };
  const enrollmentRequest = (request: {
    body: unknown;
    headers: Record<string, string | string[] | undefined>;
    raw: { socket: unknown };
    ip: string;
  }): EnrollmentRequest => {
    const type = String(request.headers["content-type"] ?? "")
      .split(";")[0]
      ?.trim()
      .toLowerCase();
    if (typeof request.body !== "string" || type !== "application/pkcs10") {
      throw new VigilError("REQUEST_UNSUPPORTED_MEDIA_TYPE", "EST enrollment takes Content-Type: application/pkcs10", {
        hint: "Send the base64 DER PKCS#10 request as application/pkcs10 (RFC 7030 §4.2.1).",
      });
    }
    const posture = request.headers[POSTURE_HEADER];
    const authorization = request.headers.authorization;
    return {
      body: request.body,
      authorization: typeof authorization === "string" ? authorization : undefined,
      clientChain: presentedChain(request.raw.socket as TLSSocket),
      postureHeader: typeof posture === "string" ? posture : undefined,
      remote: request.ip,
    };
  };

  app.get(
    "/.well-known/est/cacerts",
    {
      config: { public: true },
      schema: {
        tags: ["est"],
        summary: "RFC 7030 §4.1: the CA certificates (issuing and root), base64 PKCS#7 certs-only.",
        security: [],
      },
    },
    async (_request, reply) =>
      reply
        .type("application/pkcs7-mime")
        .header("content-transfer-encoding", "base64")
        .send(base64Lines(certsOnly([deps.ca.issuingPem, deps.ca.rootPem]))),
  );

  app.get(
    "/.well-known/est/csrattrs",
    {
      config: { public: true },
      schema: {
        tags: ["est"],
        summary: "RFC 7030 §4.5: what a CSR should contain (EC P-256, ECDSA with SHA-256).",
        security: [],
      },
    },
    async (_request, reply) =>
      reply.type("application/csrattrs").header("content-transfer-encoding", "base64").send(base64Lines(CSR_ATTRS)),
  );

  for (const [path, renew] of [
    ["/.well-known/est/simpleenroll", false],
    ["/.well-known/est/simplereenroll", true],
  ] as const) {
    app.post(
      path,
      {
        bodyLimit: EST_BODY_LIMIT,
        config: { public: true },
        schema: {
          tags: ["est"],
          summary: renew
            ? "RFC 7030 §4.2.2: renew, authenticated by the device's current certificate (mutual TLS); same subject."
            : "RFC 7030 §4.2.1: enroll with a CSR; attestation by factory certificate (mutual TLS), claim token (HTTP Basic password) or pre-registered key.",
          security: [],
          response: estReply,
        },
      },
      async (request, reply) => {
        try {
          const input = enrollmentRequest(request);
          const result = renew ? await deps.enrollment.reenroll(input) : await deps.enrollment.enroll(input);
          return reply
            .type("application/pkcs7-mime; smime-type=certs-only")
            .header("content-transfer-encoding", "base64")
            .send(base64Lines(certsOnly([result.certificate.der])));
        } catch (error) {
          // RFC 7030 §3.2.3: a 401 names the HTTP authentication the server accepts.
          if (error instanceof VigilError && error.code.startsWith("ENROLLMENT_AUTH"))
            void reply.header("www-authenticate", 'Basic realm="vigil-est"');
          throw error;
        }
      },
    );
  }

  app.get(
    "/pki/crl",
    {
      config: { public: true },
      schema: { tags: ["est"], summary: "The issuing CA's certificate revocation list (DER, RFC 5280).", security: [] },
    },
    async (_request, reply) =>
      reply
        .type("application/pkix-crl")
        .header("cache-control", "max-age=60")
        .send(await deps.identity.crl()),
  );

  app.get(
    "/pki/ca.pem",
    {
      config: { public: true },
      schema: { tags: ["est"], summary: "The root CA certificate (PEM): what devices and clients trust.", security: [] },
    },
    async (_request, reply) => reply.type("application/x-pem-file").send(deps.ca.rootPem),
  );
};
