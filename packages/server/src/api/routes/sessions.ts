import { ErrorBody, MfaAnswerRequest, SessionRequest, SessionResponse, WebAuthnAssertionRequest } from "@vigil/contract";
import type { FastifyReply } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { iso } from "../../core/index.js";
import type { IssuedSession, OperatorService, Principal } from "../../operators/index.js";
import { clearedSessionCookies, sessionCookies } from "../rbac.js";
import { factorOf } from "./auth.js";

/**
 * Console sessions: the cookie never reaches script (HttpOnly) nor another site
 * (SameSite=Strict); state-changing requests also need the CSRF token (see rbac.ts).
 * Bearer tokens are not affected.
 */
export const sessionRoutes: FastifyPluginAsyncZod<{ operators: OperatorService; sessionTtlSeconds: number }> = async (
  app,
  deps,
) => {
  const send = (reply: FastifyReply, s: IssuedSession) => {
    void reply.header(
      "set-cookie",
      sessionCookies({ cookie: s.cookie, csrfToken: s.csrfToken, maxAgeSeconds: deps.sessionTtlSeconds }),
    );
    void reply.header("cache-control", "no-store");
    return reply.status(201).send({
      operator: s.operator,
      role: s.role,
      expiresAt: iso(s.expiresAt),
      csrfToken: s.csrfToken,
      mustChangePassword: s.mustChangePassword,
      mfaEnrollmentRequired: s.mfaEnrollmentRequired,
    });
  };

  app.post(
    "/session",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary:
          "Console login: sets the session cookie (HttpOnly, Secure, SameSite=Strict) and returns the CSRF token. Without a second factor: 401 AUTH_MFA_REQUIRED with a challenge.",
        security: [],
        body: SessionRequest,
        response: { 201: SessionResponse, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => send(reply, await deps.operators.openSession({ ...request.body, remote: request.ip })),
  );

  app.post(
    "/session/mfa",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary: "Second step of a console login: a TOTP or recovery code for the challenge.",
        security: [],
        body: MfaAnswerRequest,
        response: { 201: SessionResponse, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const { operator } = await deps.operators.answerChallenge(
        request.body.challengeId,
        factorOf(request.body),
        request.ip,
        "session",
      );
      return send(reply, await deps.operators.finishSession(operator, request.ip));
    },
  );

  app.post(
    "/session/webauthn",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary: "Second step of a console login with a security key or passkey.",
        security: [],
        body: WebAuthnAssertionRequest,
        response: { 201: SessionResponse, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const { operator } = await deps.operators.answerWebAuthn(
        request.body.challengeId,
        request.body.response,
        request.ip,
        "session",
      );
      return send(reply, await deps.operators.finishSession(operator, request.ip));
    },
  );

  app.delete(
    "/session",
    {
      config: { permission: "self", allowDuringPasswordChange: true, allowDuringMfaEnrollment: true },
      schema: {
        tags: ["auth"],
        summary: "Console logout: ends the session and clears its cookies.",
        response: { 204: z.null(), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      await deps.operators.closeSession(request.principal as Principal);
      void reply.header("set-cookie", clearedSessionCookies());
      return reply.status(204).send(null);
    },
  );
};
