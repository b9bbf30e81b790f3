import { CreateOperatorRequest, CreateOperatorResponse, ErrorBody, OperatorDto, OperatorListResponse } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { iso } from "../../core/index.js";
import type { OperatorAdmin, OperatorView, Principal } from "../../operators/index.js";

export function operatorDto(v: OperatorView): OperatorDto {
  return {
    username: v.record.username,
    role: v.record.role,
    sites: [...v.record.sites],
    disabled: v.record.disabledAt !== null,
    mustChangePassword: v.record.mustChangePassword,
    mfa: { totp: v.mfa.totp, webauthn: v.mfa.webauthn.length, recoveryCodesLeft: v.mfa.recoveryCodesLeft },
    createdAt: iso(v.record.createdAt),
  };
}

const by = (request: { principal?: Principal }) => (request.principal as Principal).username;
const NameParams = z.object({ username: z.string().min(1).max(64) });

/** Operator management: admin only (operators:write); auditors may list (operators:read). */
export const operatorRoutes: FastifyPluginAsyncZod<{ operatorAdmin: OperatorAdmin }> = async (app, deps) => {
  app.get(
    "/",
    {
      config: { permission: "operators:read" },
      schema: {
        tags: ["operators"],
        summary: "Operator accounts with role, sites and enrolled second factors (never secrets).",
        response: { 200: OperatorListResponse, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => ({ items: (await deps.operatorAdmin.list()).map(operatorDto) }),
  );

  app.post(
    "/",
    {
      config: { permission: "operators:write" },
      schema: {
        tags: ["operators"],
        summary: "Create an operator with a role and sites; returns a one-time password (shown once).",
        body: CreateOperatorRequest,
        response: { 201: CreateOperatorResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { view, oneTimePassword } = await deps.operatorAdmin.create({ ...request.body, by: by(request) });
      return reply.status(201).send({ operator: operatorDto(view), oneTimePassword });
    },
  );

  for (const [action, summary] of [
    ["disable", "Disable an operator: its tokens and sessions end at once."],
    ["enable", "Enable a disabled operator again."],
    ["reset-mfa", "Remove an operator's second factors and recovery codes; it enrols again at its next login."],
  ] as const) {
    app.post(
      `/:username/${action}`,
      {
        config: { permission: "operators:write" },
        schema: {
          tags: ["operators"],
          summary,
          params: NameParams,
          response: { 200: OperatorDto, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) =>
        operatorDto(
          action === "reset-mfa"
            ? await deps.operatorAdmin.resetMfa(request.params.username, by(request))
            : await deps.operatorAdmin.setDisabled(request.params.username, action === "disable", by(request)),
        ),
    );
  }
};
