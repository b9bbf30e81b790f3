import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { ErrorBody, Scope } from "@vigil/contract";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { AuditLog } from "../audit/index.js";
import { VigilError, isVigilError, type Clock, type Logger, type Metrics } from "../core/index.js";
import type { EnrollmentService } from "../enrollment/index.js";
import type { CertificateAuthority, CertificateRepository, DeviceRegistry, IdentityService } from "../identity/index.js";
import type { OperatorService, Principal } from "../operators/index.js";
import type { SignalBus } from "../signals/index.js";
import { httpStatusOf } from "./http-errors.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { deviceRoutes } from "./routes/devices.js";
import { enrollmentRoutes } from "./routes/enrollment.js";
import { estRoutes } from "./routes/est.js";
import { healthRoutes, type PlatformStatus } from "./routes/health.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Public routes skip authentication; everything else is deny-by-default. */
    public?: boolean;
    /** The scope a token must carry. Defaults to "read" for GET/HEAD and "write" otherwise. */
    scope?: Scope;
    /** Allowed while the operator still has to change a one-time password. */
    allowDuringPasswordChange?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface ApiDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly bus: SignalBus;
  readonly operators: OperatorService;
  readonly devices: DeviceRegistry;
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
            minVersion: "TLSv1.2" as const,
            requestCert: true,
            rejectUnauthorized: false,
          },
        }
      : {}),
    ajv: { customOptions: { removeAdditional: false } },
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  installMetrics(app, deps.metrics);
  installErrorHandling(app, deps.log);
  installAuth(app, deps);

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
  await typed.register(deviceRoutes, { ...deps, prefix: "/api/v1/devices" });
  await typed.register(estRoutes, deps);
  await typed.register(enrollmentRoutes, deps);
  await typed.register(auditRoutes, { ...deps, prefix: "/api/v1/audit" });
  return app;
}

function requestIds(): () => string {
  let n = 0;
  const prefix = Date.now().toString(36);
  return () => `${prefix}-${(++n).toString(36)}`;
}

export function sendError(reply: FastifyReply, error: VigilError, extra: Partial<ErrorBody["error"]> = {}): FastifyReply {
  const body: ErrorBody = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
      requestId: String(reply.request.id),
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

function installAuth(app: FastifyInstance, deps: ApiDeps): void {
  app.decorateRequest("principal", undefined);
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions;
    if (route.url === undefined || route.config.public === true) return; // 404s and public routes
    const deny = (error: VigilError) => {
      deps.bus.emit("auth.denied", {
        remote: request.ip,
        route: `${request.method} ${route.url ?? ""}`,
        code: error.code,
        ...(request.principal ? { tokenId: request.principal.tokenId } : {}),
      });
      return sendError(reply, error);
    };
    const header = request.headers.authorization;
    if (header === undefined || header === "") {
      return deny(
        new VigilError("AUTH_REQUIRED", "this route needs an API token", {
          hint: "Log in with `vigil login` and send `Authorization: Bearer <token>`.",
        }),
      );
    }
    const match = /^Bearer ([\x21-\x7e]{1,256})$/.exec(header);
    if (match === null || match[1] === undefined) {
      return deny(
        new VigilError("AUTH_TOKEN_INVALID", "the Authorization header must be `Bearer <token>`", {
          hint: "Log in again: `vigil login`.",
        }),
      );
    }
    try {
      request.principal = await deps.operators.authenticate(match[1]);
    } catch (error) {
      if (isVigilError(error)) return deny(error);
      throw error;
    }
    const needed: Scope = route.config.scope ?? (request.method === "GET" || request.method === "HEAD" ? "read" : "write");
    if (!request.principal.scopes.includes(needed)) {
      return deny(
        new VigilError(
          "AUTH_SCOPE_MISSING",
          `this route needs the "${needed}" scope; the token has ${request.principal.scopes.join(", ")}`,
          {
            hint: `Log in with a token that carries "${needed}".`,
          },
        ),
      );
    }
    if (request.principal.mustChangePassword && route.config.allowDuringPasswordChange !== true) {
      return deny(
        new VigilError("AUTH_PASSWORD_CHANGE_REQUIRED", "the one-time password must be changed first", {
          hint: "Run `vigil login` again; it asks for a new password.",
        }),
      );
    }
    return undefined;
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
