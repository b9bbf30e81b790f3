import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { VigilError, isVigilError, type Logger } from "../core/index.js";
import { digestsEqual, secretDigest } from "../identity/index.js";
import { PERMISSIONS, roleAllows, type OperatorService, type Permission, type Principal } from "../operators/index.js";
import type { SignalBus } from "../signals/index.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Public routes skip authentication; everything else is deny-by-default. */
    public?: boolean;
    /**
     * The permission the caller's role must grant (operators/permissions.ts). A non-public
     * route without one is refused to every role.
     */
    permission?: Permission;
    /** Allowed while the operator still has to change a one-time password. */
    allowDuringPasswordChange?: boolean;
    /** Allowed to a token or session opened without a second factor by a role that needs one (to enrol it). */
    allowDuringMfaEnrollment?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The console's session cookie (HttpOnly) and its CSRF companion (readable by the page). */
export const SESSION_COOKIE = "__Host-vigil-session";
export const CSRF_COOKIE = "__Host-vigil-csrf";
export const CSRF_HEADER = "x-csrf-token";

/** One registered route, as the authorization matrix test enumerates them. */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly public: boolean;
  readonly permission: Permission | undefined;
  readonly allowDuringPasswordChange: boolean;
  readonly allowDuringMfaEnrollment: boolean;
}

const routeTables = new WeakMap<FastifyInstance, RouteInfo[]>();

/** Every route of the API with its access rule, in registration order (HEAD and trailing-slash twins omitted). */
export function routeTable(app: FastifyInstance): readonly RouteInfo[] {
  return routeTables.get(app) ?? [];
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Parses one cookie from a Cookie header (RFC 6265 §5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Cookie attributes for the console session: HttpOnly (no script reads it), Secure,
 * SameSite=Strict (never sent on cross-site requests), `__Host-` (no Domain, Path=/).
 */
export function sessionCookies(value: { cookie: string; csrfToken: string; maxAgeSeconds: number }): string[] {
  const common = `Path=/; Secure; SameSite=Strict; Max-Age=${value.maxAgeSeconds}`;
  return [`${SESSION_COOKIE}=${value.cookie}; ${common}; HttpOnly`, `${CSRF_COOKIE}=${value.csrfToken}; ${common}`];
}

export function clearedSessionCookies(): string[] {
  return [
    `${SESSION_COOKIE}=; Path=/; Secure; SameSite=Strict; Max-Age=0; HttpOnly`,
    `${CSRF_COOKIE}=; Path=/; Secure; SameSite=Strict; Max-Age=0`,
  ];
}

export interface AuthDeps {
  readonly bus: SignalBus;
  readonly operators: OperatorService;
  readonly log: Logger;
  readonly sendError: (reply: FastifyReply, error: VigilError) => FastifyReply;
}

/**
 * Deny-by-default authentication and authorization for every non-public route:
 * 1. a bearer token, or else the console session cookie (then, for state-changing
 *    methods, a same-origin Origin if sent and the session's CSRF token in X-CSRF-Token);
 * 2. the route's declared permission, granted by the operator's role (none declared: refused);
 * 3. the token's scope covering that permission;
 * 4. no pending one-time password change, no pending second-factor enrolment (except on
 *    the routes that serve those steps).
 * Site scoping (which devices) is applied by the routes from `principal.sites`.
 */
export function installAuth(app: FastifyInstance, deps: AuthDeps): void {
  const routes: RouteInfo[] = [];
  routeTables.set(app, routes);
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = (route.config ?? {}) as Partial<RouteInfo> & { public?: boolean };
    for (const method of methods) {
      // HEAD twins of GET routes and the slash/no-slash twins of a prefix root share their rule.
      if (method === "HEAD") continue;
      const twin = route.url.endsWith("/") ? route.url.slice(0, -1) : `${route.url}/`;
      if (routes.some((r) => r.method === method && r.url === twin)) continue;
      routes.push({
        method,
        url: route.url,
        public: config.public === true,
        permission: config.permission,
        allowDuringPasswordChange: config.allowDuringPasswordChange === true,
        allowDuringMfaEnrollment: config.allowDuringMfaEnrollment === true,
      });
      if (config.public !== true && config.permission === undefined && !route.url.startsWith("/docs")) {
        deps.log.warn({ method, url: route.url }, "route declares no permission: it is refused to every operator");
      }
    }
  });

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
      return deps.sendError(reply, error);
    };
    const header = request.headers.authorization;
    const cookie = header === undefined || header === "" ? readCookie(request.headers.cookie, SESSION_COOKIE) : undefined;
    if ((header === undefined || header === "") && (cookie === undefined || cookie === "")) {
      return deny(
        new VigilError("AUTH_REQUIRED", "this route needs an API token or a console session", {
          hint: "Log in with `vigil login` and send `Authorization: Bearer <token>`.",
        }),
      );
    }
    try {
      if (cookie !== undefined) {
        request.principal = await deps.operators.authenticateSession(cookie);
        const csrf = csrfProblem(request, request.principal);
        if (csrf !== undefined) return deny(csrf);
      } else {
        const match = /^Bearer ([\x21-\x7e]{1,256})$/.exec(header ?? "");
        if (match === null || match[1] === undefined) {
          return deny(
            new VigilError("AUTH_TOKEN_INVALID", "the Authorization header must be `Bearer <token>`", {
              hint: "Log in again: `vigil login`.",
            }),
          );
        }
        request.principal = await deps.operators.authenticate(match[1]);
      }
    } catch (error) {
      if (isVigilError(error)) return deny(error);
      throw error;
    }
    const principal = request.principal;
    const permission = route.config.permission;
    if (permission === undefined || !roleAllows(principal.role, permission)) {
      return deny(
        new VigilError(
          "AUTH_PERMISSION_DENIED",
          permission === undefined
            ? "this route declares no permission, so no role may use it"
            : `role ${principal.role} does not grant "${permission}"`,
          { hint: "Ask an admin for a role that grants it (docs/operators.md lists them)." },
        ),
      );
    }
    const needed = PERMISSIONS[permission].scope;
    if (!principal.scopes.includes(needed)) {
      return deny(
        new VigilError(
          "AUTH_SCOPE_MISSING",
          `this route needs the "${needed}" scope; the token has ${principal.scopes.join(", ")}`,
          {
            hint: `Log in with a token that carries "${needed}".`,
          },
        ),
      );
    }
    if (principal.mustChangePassword && route.config.allowDuringPasswordChange !== true) {
      return deny(
        new VigilError("AUTH_PASSWORD_CHANGE_REQUIRED", "the one-time password must be changed first", {
          hint: "Run `vigil login` again; it asks for a new password.",
        }),
      );
    }
    if (principal.mfaEnrollmentRequired && route.config.allowDuringMfaEnrollment !== true) {
      return deny(
        new VigilError("AUTH_MFA_ENROLLMENT_REQUIRED", "a second factor must be enrolled before anything else", {
          hint: "Run `vigil login` again: it enrols TOTP (or POST /api/v1/auth/mfa/totp, then .../confirm). A token opened before you enrolled stays limited: log in again.",
        }),
      );
    }
    return undefined;
  });
}

/** CSRF defence for cookie-authenticated, state-changing requests (OWASP CSRF cheat sheet). */
function csrfProblem(request: FastifyRequest, principal: Principal): VigilError | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `${request.protocol}://${request.host}`) {
    return new VigilError(
      "AUTH_CSRF_FAILED",
      `a cross-origin request (${origin.slice(0, 100)}) may not use the console session`,
      {
        hint: "Use the console from its own origin, or an API token.",
      },
    );
  }
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent !== "string" || principal.csrfHash === undefined || !digestsEqual(principal.csrfHash, secretDigest(sent))) {
    return new VigilError("AUTH_CSRF_FAILED", "a state-changing request with the console session needs its CSRF token", {
      hint: `Send the csrfToken from the login response (or the ${CSRF_COOKIE} cookie) as the X-CSRF-Token header.`,
    });
  }
  return undefined;
}
