import { ChangePasswordRequest, ErrorBody, LoginRequest, TokenResponse, WhoAmIResponse } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { iso } from "../../core/index.js";
import type { OperatorService, Principal } from "../../operators/index.js";

function principalOf(request: { principal?: Principal }): Principal {
  // The auth hook guarantees a principal on every non-public route.
  return request.principal as Principal;
}

export const authRoutes: FastifyPluginAsyncZod<{ operators: OperatorService }> = async (app, deps) => {
  app.post(
    "/login",
    {
      config: { public: true },
      schema: {
        tags: ["auth"],
        summary: "Exchange an operator name and password for a scoped, expiring API token.",
        security: [],
        body: LoginRequest,
        response: { 200: TokenResponse, 400: ErrorBody, 401: ErrorBody, 413: ErrorBody },
      },
    },
    async (request) => {
      const issued = await deps.operators.login({ ...request.body, remote: request.ip });
      return { ...issued, scopes: [...issued.scopes], expiresAt: iso(issued.expiresAt) };
    },
  );

  app.get(
    "/whoami",
    {
      config: { allowDuringPasswordChange: true },
      schema: {
        tags: ["auth"],
        summary: "The operator and token behind this request.",
        response: { 200: WhoAmIResponse, 401: ErrorBody },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { operator: p.username, tokenId: p.tokenId, scopes: [...p.scopes], expiresAt: iso(p.expiresAt) };
    },
  );

  app.post(
    "/password",
    {
      config: { allowDuringPasswordChange: true },
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
      config: { allowDuringPasswordChange: true, scope: "read" },
      schema: { tags: ["auth"], summary: "Revoke the token used for this request.", response: { 204: z.null(), 401: ErrorBody } },
    },
    async (request, reply) => {
      const p = principalOf(request);
      await deps.operators.revokeToken(p, p.tokenId);
      return reply.status(204).send(null);
    },
  );
};
