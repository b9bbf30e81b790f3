import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { ErrorBody } from "@vigil/contract";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { AuditLog } from "../audit/index.js";
import type { AssessmentService } from "../assessment/index.js";
import { VigilError, isVigilError, type Clock, type Logger, type Metrics } from "../core/index.js";
import type { EnrollmentService } from "../enrollment/index.js";
import {
  TLS_CIPHERS,
  TLS_MIN_VERSION,
  type CertificateAuthority,
  type CertificateRepository,
  type DeviceRegistry,
  type IdentityService,
} from "../identity/index.js";
import type { OperatorAdmin, OperatorService } from "../operators/index.js";
import type { DrillRegistry, SignalBus } from "../signals/index.js";
import type { TrustService } from "../trust/index.js";
import { httpStatusOf } from "./http-errors.js";
import { serializerCompiler } from "./serializer.js";
import { auditRoutes } from "./routes/audit.js";
import { assessmentRoutes } from "./routes/assessment.js";
import { authRoutes } from "./routes/auth.js";
import { deviceRoutes } from "./routes/devices.js";
import { legacyPasswordRoutes } from "./routes/legacy-passwords.js";
import type { LegacyPasswords } from "../gateway/index.js";
import { enrollmentRoutes } from "./routes/enrollment.js";
import { estRoutes } from "./routes/est.js";
import { healthRoutes, type PlatformStatus } from "./routes/health.js";
import { trustRoutes } from "./routes/trust.js";
import { incidentRoutes } from "./routes/incidents.js";
import { drillRoutes } from "./routes/drills.js";
import type { ResponseService } from "../response/index.js";
import { keyRoutes, type KeyRotation } from "./routes/keys.js";
import { mfaRoutes } from "./routes/mfa.js";
import { operatorRoutes } from "./routes/operators.js";
import { sessionRoutes } from "./routes/sessions.js";
import { installAuth } from "./rbac.js";
import { otaDeviceRoutes, otaRoutes, type OtaRouteDeps } from "./routes/ota.js";
import { consoleRoutes } from "./routes/console.js";
import { eventRoutes } from "./routes/events.js";
import { fleetViewRoutes, type FleetViewDeps } from "./routes/fleet-views.js";
import type { SessionRepository } from "../operators/index.js";

export interface ApiDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly bus: SignalBus;
  /** Drills in progress (`/api/v1/drills`); absent: no drill routes. */
  readonly drills?: DrillRegistry;
  readonly operators: OperatorService;
  readonly operatorAdmin: OperatorAdmin;
  readonly keyRotation: KeyRotation;
  readonly sessionTtlSeconds: number;
  readonly devices: DeviceRegistry;
  readonly trust: TrustService;
  /** Incidents and playbooks (absent when `response.enabled` is false). */
  readonly response?: ResponseService | undefined;
  /** Vulnerability assessment, audit checks, compliance reports. */
  readonly assessment: AssessmentService;
  /** Legacy devices' MQTT passwords (POST /api/v1/devices/:id/legacy-password). */
  readonly legacyPasswords?: LegacyPasswords;
  readonly maxSbomBytes: number;
  /** OTA updates: operator routes under /api/v1/ota, device routes (mutual TLS) under /ota/v1. */
  readonly ota?: Pick<OtaRouteDeps, "updates" | "campaigns" | "deviceRepository" | "maxImageBytes">;
  readonly identity: IdentityService;
  readonly enrollment: EnrollmentService;
  readonly ca: CertificateAuthority;
  readonly certificates: CertificateRepository;
  readonly clock: Clock;
  readonly deviceCertValidityDays: number;
  readonly audit: AuditLog;
  readonly platform: PlatformStatus;
  readonly tls: { cert: string; key: string } | undefined;
  readonly bodyLimitBytes: number;
  readonly version: string;
  /** The console's live stream re-checks sessions (revoked, expired, idle) without touching them. */
  readonly sessions?: Pick<SessionRepository, "findById">;
  readonly sessionIdleSeconds?: number;
  /** Read-only views the console shows: loaded profiles, recent detections. */
  readonly views?: FleetViewDeps;
  /** The built console (default: packages/console/dist). */
  readonly consoleDir?: string;
}

export type Api = FastifyInstance;
export type TypedApi = ReturnType<FastifyInstance["withTypeProvider"]> & FastifyInstance;

/** Builds the HTTPS API (not yet listening). Routes live under /api/v1; OpenAPI at /docs. */
export async function buildApi(deps: ApiDeps): Promise<Api> {
  const app = Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: requestIds(),
    // Client certificates are asked for but checked by the routes that use them (EST accepts
    // several trust anchors: manufacturer CAs and Vigil's own issuing CA).
    ...(deps.tls
      ? {
          https: {
            cert: deps.tls.cert,
            key: deps.tls.key,
            minVersion: TLS_MIN_VERSION,
            ciphers: TLS_CIPHERS,
            requestCert: true,
            rejectUnauthorized: false,
          },
        }
      : {}),
    ajv: { customOptions: { removeAdditional: false } },
    // What the router refuses before any route runs (a path parameter longer than
    // maxParamLength, a malformed %-escape) gets a catalogue code like every other bad request.
    frameworkErrors: (error, _request, reply) => {
      void sendError(
        reply,
        new VigilError("REQUEST_INVALID", `the request path is invalid (${error.code ?? "malformed"})`, {
          hint: "Path parameters are at most 100 characters, with valid %-escapes.",
        }),
      );
    },
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  installMetrics(app, deps.metrics);
  installAuditDurability(app, deps.audit, deps.log);
  installErrorHandling(app, deps.log);
  installAuth(app, { bus: deps.bus, operators: deps.operators, log: deps.log, sendError });

  // The docs' own routes are public (the hook must exist before swagger-ui adds them).
  app.addHook("onRoute", (route) => {
    if (route.url.startsWith("/docs")) route.config = { ...(route.config as object), public: true };
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "Vigil API", version: deps.version, description: "The HTTP API of Vigil, the IoT security platform." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { deepLinking: false } });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  await typed.register(healthRoutes, deps);
  await typed.register(authRoutes, { ...deps, prefix: "/api/v1/auth" });
  await typed.register(mfaRoutes, { ...deps, prefix: "/api/v1/auth" });
  await typed.register(sessionRoutes, { ...deps, prefix: "/api/v1/auth" });
  await typed.register(operatorRoutes, { ...deps, prefix: "/api/v1/operators" });
  await typed.register(keyRoutes, { ...deps, prefix: "/api/v1/keys" });
  await typed.register(deviceRoutes, { ...deps, prefix: "/api/v1/devices" });
  if (deps.legacyPasswords !== undefined)
    await typed.register(legacyPasswordRoutes, { ...deps, legacyPasswords: deps.legacyPasswords, prefix: "/api/v1/devices" });
  await typed.register(trustRoutes, { ...deps, prefix: "/api/v1" });
  if (deps.response !== undefined) await typed.register(incidentRoutes, { ...deps, response: deps.response, prefix: "/api/v1" });
  if (deps.drills !== undefined)
    await typed.register(drillRoutes, { drills: deps.drills, bus: deps.bus, clock: deps.clock, prefix: "/api/v1" });
  await typed.register(estRoutes, deps);
  await typed.register(enrollmentRoutes, deps);
  await typed.register(auditRoutes, { ...deps, prefix: "/api/v1/audit" });
  await typed.register(assessmentRoutes, { ...deps, prefix: "/api/v1" });
  await typed.register(eventRoutes, { ...deps, prefix: "/api/v1" });
  await typed.register(fleetViewRoutes, { ...deps.views, devices: deps.devices, prefix: "/api/v1" });
  await app.register(consoleRoutes, { consoleDir: deps.consoleDir });
  if (deps.ota !== undefined) {
    const ota = { ...deps.ota, ca: deps.ca, certificates: deps.certificates, clock: deps.clock };
    await typed.register(otaRoutes, { ...ota, prefix: "/api/v1/ota" });
    await typed.register(otaDeviceRoutes, { ...ota, prefix: "/ota/v1" });
  }
  return app;
}

function requestIds(): () => string {
  let n = 0;
  const prefix = Date.now().toString(36);
  return () => `${prefix}-${(++n).toString(36)}`;
}

export function sendError(reply: FastifyReply, error: VigilError, extra: Partial<ErrorBody["error"]> = {}): FastifyReply {
  // AUTH_MFA_REQUIRED carries its login challenge; AUTH_LOCKED says when to retry (RFC 9110 §10.2.3).
  const challenge =
    error.code === "AUTH_MFA_REQUIRED" ? (error.details?.challenge as ErrorBody["error"]["challenge"]) : undefined;
  const retryAfter = error.details?.retryAfterSeconds;
  if (typeof retryAfter === "number") void reply.header("retry-after", String(retryAfter));
  const body: ErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
      requestId: String(reply.request.id),
      ...(challenge ? { challenge } : {}),
      ...extra,
    },
  };
  return reply
    .status(httpStatusOf[error.code] ?? 500)
    .type("application/json")
    .send(body);
}

function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new VigilError("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`, { hint: "See /docs for the API." }),
    ),
  );
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isVigilError(error)) return sendError(reply, error);
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = error.validation.map((v) => ({
        path: `${error.validationContext ?? "body"}${v.instancePath.replace(/\//g, ".")}`,
        message: v.message ?? "invalid",
      }));
      return sendError(
        reply,
        new VigilError(
          "REQUEST_INVALID",
          `the request ${error.validationContext ?? "body"} is invalid: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
          {
            hint: "Compare the request with the schema at /docs.",
          },
        ),
        { issues },
      );
    }
    switch (error.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return sendError(
          reply,
          new VigilError("REQUEST_TOO_LARGE", `the request body exceeds ${app.initialConfig.bodyLimit} bytes`, {
            hint: "Send a smaller body.",
          }),
        );
      case "FST_ERR_CTP_INVALID_JSON_BODY":
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return sendError(
          reply,
          new VigilError("REQUEST_MALFORMED_JSON", `the request body is not valid JSON: ${error.message}`, {
            hint: "Send a JSON object.",
          }),
        );
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
        return sendError(
          reply,
          new VigilError(
            "REQUEST_UNSUPPORTED_MEDIA_TYPE",
            `content type ${JSON.stringify(request.headers["content-type"] ?? "")} is not accepted here`,
            {
              hint: "Send application/json.",
            },
          ),
        );
      default:
        break;
    }
    if (error instanceof SyntaxError) {
      return sendError(
        reply,
        new VigilError("REQUEST_MALFORMED_JSON", `the request body is not valid JSON: ${error.message}`, {
          hint: "Send a JSON object.",
        }),
      );
    }
    if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      return sendError(
        reply,
        new VigilError("REQUEST_INVALID", error.message, { hint: "Compare the request with the schema at /docs." }),
      );
    }
    // Unknown: logged with the request id, never echoed.
    log.error({ err: error, reqId: request.id, route: request.routeOptions.url }, "unhandled error in API");
    return sendError(
      reply,
      new VigilError("INTERNAL", "an internal error occurred; it has been logged", {
        hint: `Quote request id ${request.id} when reporting it.`,
      }),
    );
  });
}

/**
 * An answered change is audited (DESIGN: a crash loses no audit entry): before the reply to a
 * request that may change state leaves, the audit entries queued so far (the request's own
 * among them) are committed, one write per event-loop turn (group commit). Reads skip it. A
 * failing audit write does not hold the reply: the audit log logs it and keeps retrying.
 */
function installAuditDurability(app: FastifyInstance, audit: AuditLog, log: Logger): void {
  app.addHook("onSend", async (request, _reply, payload) => {
    if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return payload;
    await audit
      .commit()
      .catch((error: unknown) =>
        log.warn({ err: error, reqId: request.id }, "the audit entries of this request are not durable yet"),
      );
    return payload;
  });
}

function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  const requests = metrics.counter("vigil_http_requests_total", "HTTP requests answered, by route and status.", [
    "method",
    "route",
    "status",
  ]);
  const duration = metrics.histogram(
    "vigil_http_request_duration_seconds",
    "HTTP request duration in seconds, by route.",
    ["method", "route"],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "(unmatched)";
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
