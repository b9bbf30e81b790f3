import { ErrorBody, KeyRotationResponse } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { RotationResult } from "../../identity/index.js";
import type { Principal } from "../../operators/index.js";

/** What the key routes may ask of the running platform (app/ implements it). */
export interface KeyRotation {
  rotate(by: string): Promise<RotationResult>;
}

export const keyRoutes: FastifyPluginAsyncZod<{ keyRotation: KeyRotation }> = async (app, deps) => {
  app.post(
    "/rotate",
    {
      config: { permission: "keys:rotate" },
      schema: {
        tags: ["keys"],
        summary:
          "Rotate the master key without downtime: a new key is made, every vault item and data key is re-wrapped under it, then it replaces the old one.",
        response: { 200: KeyRotationResponse, 401: ErrorBody, 403: ErrorBody, 500: ErrorBody },
      },
    },
    async (request) => deps.keyRotation.rotate((request.principal as Principal).username),
  );
};
