import {
  ErrorBody,
  MfaStatusResponse,
  RecoveryCodesResponse,
  TotpConfirmRequest,
  TotpEnrollResponse,
  WebAuthnOptionsResponse,
  WebAuthnRegisterRequest,
  WebAuthnRegisteredResponse,
} from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { iso } from "../../core/index.js";
import type { OperatorService, Principal } from "../../operators/index.js";

const principalOf = (request: { principal?: Principal }) => request.principal as Principal;

/** Enrolment routes work for a token or session that has not presented a second factor yet. */
const ENROLMENT = { permission: "self", allowDuringMfaEnrollment: true } as const;

/** The caller's own second factors: TOTP, WebAuthn keys, recovery codes. */
export const mfaRoutes: FastifyPluginAsyncZod<{ operators: OperatorService }> = async (app, deps) => {
  app.get(
    "/mfa",
    {
      config: ENROLMENT,
      schema: {
        tags: ["mfa"],
        summary: "Which second factors this operator has enrolled.",
        response: { 200: MfaStatusResponse, 401: ErrorBody },
      },
    },
    async (request) => {
      const status = await deps.operators.factors.status(principalOf(request).operatorId);
      return { ...status, webauthn: status.webauthn.map((k) => ({ ...k, createdAt: iso(k.createdAt) })) };
    },
  );

  app.post(
    "/mfa/totp",
    {
      config: ENROLMENT,
      schema: {
        tags: ["mfa"],
        summary: "Start TOTP enrolment: a new secret, shown once (otpauth URI for a QR code). Confirm it with a first code.",
        response: { 200: TotpEnrollResponse, 401: ErrorBody },
      },
    },
    async (request) => deps.operators.startTotpEnrolment(principalOf(request)),
  );

  app.post(
    "/mfa/totp/confirm",
    {
      config: ENROLMENT,
      schema: {
        tags: ["mfa"],
        summary:
          "Confirm TOTP enrolment with the first code. The first factor enrolled also returns 10 recovery codes (shown once).",
        body: TotpConfirmRequest,
        response: { 200: RecoveryCodesResponse, 400: ErrorBody, 401: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => deps.operators.confirmTotpEnrolment(principalOf(request), request.body.code),
  );

  app.post(
    "/mfa/recovery-codes",
    {
      config: { permission: "self" },
      schema: {
        tags: ["mfa"],
        summary: "Replace the recovery codes with 10 new ones (shown once); the old ones stop working.",
        response: { 200: RecoveryCodesResponse, 401: ErrorBody },
      },
    },
    async (request) => ({ recoveryCodes: await deps.operators.newRecoveryCodes(principalOf(request)) }),
  );

  app.post(
    "/mfa/webauthn/register/options",
    {
      config: ENROLMENT,
      schema: {
        tags: ["mfa"],
        summary: "WebAuthn registration options (pass them to navigator.credentials.create).",
        response: { 200: WebAuthnOptionsResponse, 401: ErrorBody },
      },
    },
    async (request) => deps.operators.webauthnRegistrationOptions(principalOf(request)),
  );

  app.post(
    "/mfa/webauthn/register",
    {
      config: ENROLMENT,
      schema: {
        tags: ["mfa"],
        summary: "Register a security key or passkey as a second factor (the attestation response).",
        body: WebAuthnRegisterRequest,
        response: { 200: WebAuthnRegisteredResponse, 400: ErrorBody, 401: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => deps.operators.registerWebAuthn(principalOf(request), request.body.response, request.body.name),
  );
};
