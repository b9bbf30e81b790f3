import { z } from "zod";

/**
 * Drill wire formats (`/api/v1/drills`): an exercise registered before it runs, so that what
 * it triggers (audit entries, incidents, outgoing events) is tagged with its id.
 */
export const CreateDrillRequest = z
  .object({
    name: z.string().min(1).max(128),
    /** Device ids taking part. */
    devices: z.array(z.string().min(1).max(128)).max(10_000).default([]),
    /** Device-id prefixes taking part (identities the drill creates as it runs); at least 6 characters each. */
    prefixes: z.array(z.string().min(6).max(128)).max(16).default([]),
    /** How long it tags, from now (at most a day). */
    durationSeconds: z.number().int().min(1).max(86_400),
  })
  .strict()
  .refine((d) => d.devices.length + d.prefixes.length > 0, "name at least one device or prefix");
export type CreateDrillRequest = z.input<typeof CreateDrillRequest>;

export const DrillDto = z.object({
  id: z.string(),
  name: z.string(),
  devices: z.array(z.string()),
  prefixes: z.array(z.string()),
  startedAt: z.string(),
  endsAt: z.string(),
  active: z.boolean(),
  by: z.string(),
});
export type DrillDto = z.infer<typeof DrillDto>;

export const DrillListDto = z.object({ items: z.array(DrillDto) });
export type DrillListDto = z.infer<typeof DrillListDto>;
