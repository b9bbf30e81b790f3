import {
  ChangePasswordRequest,
  CreateApiTokenRequest,
  ErrorBody,
  LoginRequest,
  MfaAnswerRequest,
  TokenResponse,
  WebAuthnAssertionRequest,
  WebAuthnOptionsRequest,
  WebAuthnOptionsResponse,
  WhoAmIResponse,
} from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { VigilError, iso } from "../../core/index.js";
import type { FactorAnswer, IssuedToken, OperatorService, Principal } from "../../operators/index.js";

function principalOf(request: { principal?: Principal }): Principal {
  // The auth hook guarantees a principal on every non-public route.
  return request.principal as Principal;
}

const tokenDto = (issued: IssuedToken) => ({ ...issued, scopes: [...issued.scopes], expiresAt: iso(issued.expiresAt) });

/** The factor in a second-step body: exactly one of a TOTP code or a recovery code. */
export function factorOf(body: { totp?: string | undefined; recoveryCode?: string | undefined }): FactorAnswer {
  if (body.totp !== undefined && body.recoveryCode === undefined) return { totp: body.totp };
  if (body.recoveryCode !== undefined && body.totp === undefined) return { recoveryCode: body.recoveryCode };
  throw new VigilError("REQUEST_INVALID", "give exactly one of totp or recoveryCode", {
    hint: "Send the current code of your authenticator app as totp, or a recovery code as recoveryCode.",
  });
}

/** Routes that serve the steps before full access: a pending password change or second-factor enrolment. */
const EVERY_STEP = { permission: "self", allowDuringPasswordChange: true, allowDuringMfaEnrollment: true } as const;

export const authRoutes: FastifyPluginAsyncZod<{ operators: OperatorService }> = async (app, deps) => {
  app.post(
    "/login",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary:
          "Exchange an operator name and password (and, once enrolled, a TOTP or recovery code) for a scoped, expiring API token. Without the code: 401 AUTH_MFA_REQUIRED with a challenge.",
        security: [],
        body: LoginRequest,
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, 413: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => tokenDto(await deps.operators.login({ ...request.body, remote: request.ip })),
  );

  app.post(
    "/login/mfa",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary: "Second step of a login: answer the AUTH_MFA_REQUIRED challenge with a TOTP code or a recovery code.",
        security: [],
        body: MfaAnswerRequest,
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      const { operator, pending } = await deps.operators.answerChallenge(
        request.body.challengeId,
        factorOf(request.body),
        request.ip,
        "token",
      );
      return tokenDto(await deps.operators.finishToken(operator, pending, request.ip));
    },
  );

  app.post(
    "/webauthn/options",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary: "WebAuthn assertion options for a login challenge (pass them to navigator.credentials.get).",
        security: [],
        body: WebAuthnOptionsRequest,
        response: { 200: WebAuthnOptionsResponse, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => deps.operators.webauthnOptions(request.body.challengeId),
  );

  app.post(
    "/login/webauthn",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary: "Second step of a login with a security key or passkey: the signed assertion.",
        security: [],
        body: WebAuthnAssertionRequest,
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      const { operator, pending } = await deps.operators.answerWebAuthn(
        request.body.challengeId,
        request.body.response,
        request.ip,
        "token",
      );
      return tokenDto(await deps.operators.finishToken(operator, pending, request.ip));
    },
  );

  app.get(
    "/whoami",
    {
      config: EVERY_STEP,
      schema: {
        tags: ["auth"],
        summary: "The operator, role, sites and token (or session) behind this request.",
        response: { 200: WhoAmIResponse, 401: ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return {
        operator: p.username,
        tokenId: p.tokenId,
        scopes: [...p.scopes],
        expiresAt: iso(p.expiresAt),
        role: p.role,
        sites: [...p.sites],
        via: p.via,
        mfa: p.mfa,
      };
    },
  );

  app.post(
    "/password",
    {
      config: EVERY_STEP,
      schema: {
        tags: ["auth"],
        summary: "Change this operator's password (required after the first login with a one-time password).",
        body: ChangePasswordRequest,
        response: { 204: z.null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request, reply) => {
      await deps.operators.changePassword(principalOf(request), request.body.currentPassword, request.body.newPassword);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/logout",
    {
      config: EVERY_STEP,
      schema: { tags: ["auth"], summary: "Revoke the token used for this request.", response: { 204: z.null(), 401: ErrorBody } },
    },
    async (request, reply) => {
      const p = principalOf(request);
      if (p.via === "session") await deps.operators.closeSession(p);
      else await deps.operators.revokeToken(p, p.tokenId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/tokens",
    {
      config: { permission: "self" },
      schema: {
        tags: ["auth"],
        summary: "Issue a further API token (for scripts and CI) with at most the caller's scopes. Shown once.",
        body: CreateApiTokenRequest,
        response: { 201: TokenResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) =>
      reply.status(201).send(tokenDto(await deps.operators.createToken(principalOf(request), request.body))),
  );
};
