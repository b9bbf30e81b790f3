import { ErrorBody } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { iso } from "../../core/index.js";
import { LEGACY_PASSWORD_MAX_CHARS, type LegacyPasswords } from "../../gateway/index.js";
import type { DeviceRegistry } from "../../identity/index.js";
import { siteFilter, type Principal } from "../../operators/index.js";

const IdParams = z.object({ id: z.string().min(1).max(256) });

const SetLegacyPasswordRequest = z
  .object({
    password: z
      .string()
      .max(LEGACY_PASSWORD_MAX_CHARS * 4)
      // Optional in the schema only so that the device's site is checked first (404 for a
      // device of another site); missing or short is DEVICE_PASSWORD_WEAK.
      .optional()
      .describe("The device's MQTT password (16 to 1024 characters); stored as argon2id only."),
  })
  .strict();

const SetLegacyPasswordResponse = z.object({
  device: z.string(),
  setAt: z.string(),
  legacy: z.literal(true),
});

/**
 * `POST /api/v1/devices/:id/legacy-password`: an operator sets the MQTT password of a legacy
 * device that cannot hold a certificate (used only when `mqtt.legacyPasswordAuth` is on).
 */
export const legacyPasswordRoutes: FastifyPluginAsyncZod<{
  devices: DeviceRegistry;
  legacyPasswords: LegacyPasswords;
}> = async (app, deps) => {
  app.post(
    "/:id/legacy-password",
    {
      config: { permission: "devices:write" },
      schema: {
        tags: ["devices"],
        summary:
          "Set a legacy device's MQTT password (username = client id = device id, over server-authenticated TLS); the device is marked legacy (lower trust).",
        params: IdParams,
        body: SetLegacyPasswordRequest,
        response: { 200: SetLegacyPasswordResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const principal = (request as { principal?: Principal }).principal as Principal;
      await deps.devices.get(request.params.id, siteFilter(principal.sites));
      const set = await deps.legacyPasswords.setPassword(request.params.id, request.body.password ?? "", principal.username);
      return { device: set.device, setAt: iso(set.setAt), legacy: true as const };
    },
  );
};
