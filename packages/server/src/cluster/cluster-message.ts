import { z } from "zod";

/**
 * A security decision sent from the node that took it to every other node (hostile until
 * validated: a node that receives anything else drops it and counts it).
 * - `tier`: the device's live session gets this tier now (quarantine, release, trust change).
 * - `disconnect`: its live session is ended.
 * - `revoke`: its certificate(s) were revoked: the session is cut and the device refused.
 * `node` + `seq` let a node ignore its own echo and replays; `at` is the sender's clock
 * (milliseconds since the epoch), used to measure propagation.
 */
export const clusterMessageSchema = z
  .object({
    v: z.literal(1),
    node: z.string().min(1).max(64),
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    at: z.number().finite(),
    kind: z.enum(["tier", "disconnect", "revoke"]),
    device: z.string().min(1).max(128),
    tier: z.enum(["quarantine", "restricted", "standard", "trusted"]).optional(),
    reason: z.string().max(300),
    serials: z.array(z.string().max(128)).max(64).optional(),
  })
  .strict()
  .refine((m) => m.kind !== "tier" || m.tier !== undefined, { message: "a tier message names its tier" });

export type ClusterMessage = z.infer<typeof clusterMessageSchema>;

/** Parses a message off the wire; undefined for anything that is not a valid one. */
export function parseClusterMessage(data: Uint8Array | string): ClusterMessage | undefined {
  if (data.length > 8192) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch {
    return undefined;
  }
  const parsed = clusterMessageSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
