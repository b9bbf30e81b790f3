import { z } from "zod";

const envelope = {
  v: z.literal(1),
  node: z.string().min(1).max(64),
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  at: z.number().finite(),
};

/**
 * A security decision sent from the node that took it to every other node.
 * - `tier`: the device's live session gets this tier now (quarantine, release, trust change).
 * - `disconnect`: its live session is ended.
 * - `revoke`: its certificate(s) were revoked: the session is cut and the device refused.
 */
export const deviceDecisionSchema = z
  .object({
    ...envelope,
    kind: z.enum(["tier", "disconnect", "revoke"]),
    device: z.string().min(1).max(128),
    tier: z.enum(["quarantine", "restricted", "standard", "trusted"]).optional(),
    reason: z.string().max(300),
    serials: z.array(z.string().max(128)).max(64).optional(),
  })
  .strict();

/** What an operator did to an update campaign; the node that runs campaigns applies it. */
export const CAMPAIGN_ACTIONS = ["start", "pause", "resume", "rollback", "cancel", "rollback_device"] as const;

/**
 * `campaign`: an operator changed an update campaign on a node that does not run the campaign
 * engine (the change is already in the store); the node holding the `ota.campaigns` lease
 * applies it to its in-memory state. `device` names the device of a `rollback_device`.
 */
export const campaignMessageSchema = z
  .object({
    ...envelope,
    kind: z.literal("campaign"),
    campaign: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    action: z.enum(CAMPAIGN_ACTIONS),
    device: z.string().min(1).max(128).optional(),
  })
  .strict();

/**
 * A message between nodes (hostile until validated: a node that receives anything else drops
 * it and counts it). `node` + `seq` let a node ignore its own echo and replays; `at` is the
 * sender's clock (milliseconds since the epoch), used to measure propagation.
 */
export const clusterMessageSchema = z
  .discriminatedUnion("kind", [deviceDecisionSchema, campaignMessageSchema])
  .refine((m) => m.kind !== "tier" || m.tier !== undefined, { message: "a tier message names its tier" })
  .refine((m) => m.kind !== "campaign" || (m.action === "rollback_device") === (m.device !== undefined), {
    message: "a rollback_device message (and only it) names its device",
  });

export type ClusterMessage = z.infer<typeof clusterMessageSchema>;
export type DeviceDecisionMessage = z.infer<typeof deviceDecisionSchema>;
export type CampaignMessage = z.infer<typeof campaignMessageSchema>;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

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
