import { X509Certificate, createHash } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { VigilError } from "../core/index.js";

/**
 * A saved fleet: the devices a run enrolled (id and profile), whose keys and certificates
 * stay in `<dir>/devices/<id>/` (the SDK's files), so that a later run connects them from
 * disk without enrolling again (10,000 EST enrollments take minutes; connecting them does not).
 * Identities belong to the Vigil that issued them: `caSha256` pins its root CA.
 */
export const FleetManifest = z.object({
  version: z.literal(1),
  savedAt: z.string(),
  apiUrl: z.string(),
  /** SHA-256 of the root CA's DER (hex): which Vigil the certificates come from. */
  caSha256: z.string().regex(/^[0-9a-f]{64}$/),
  devices: z.array(z.object({ id: z.string().min(1).max(128), profile: z.string().min(1).max(64) })).max(1_000_000),
});
export type FleetManifest = z.infer<typeof FleetManifest>;

export const MANIFEST_FILE = "fleet.json";

export function caFingerprint(caPem: string): string {
  return createHash("sha256").update(new X509Certificate(caPem).raw).digest("hex");
}

/** Writes `<dir>/fleet.json` atomically. */
export async function writeFleetManifest(dir: string, manifest: FleetManifest): Promise<string> {
  const file = join(dir, MANIFEST_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(manifest)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return file;
}

/**
 * Reads `<dir>/fleet.json` and checks it belongs to the Vigil whose CA is `caPem`.
 * Throws `CONFIG_INVALID` when the file is missing, malformed, or from another Vigil.
 */
export async function readFleetManifest(dir: string, caPem: string): Promise<FleetManifest> {
  const file = join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new VigilError("CONFIG_INVALID", `no saved fleet in ${dir} (cannot read ${MANIFEST_FILE})`, {
      hint: "Enroll one first with --save-identities DIR.",
      cause: error,
    });
  }
  const parsed = FleetManifest.safeParse(raw);
  if (!parsed.success)
    throw new VigilError("CONFIG_INVALID", `${file} is not a saved fleet: ${parsed.error.issues[0]?.message ?? "invalid"}`, {
      hint: "Enroll again with --save-identities DIR.",
    });
  if (parsed.data.caSha256 !== caFingerprint(caPem))
    throw new VigilError("CONFIG_INVALID", `the fleet saved in ${dir} was enrolled with another Vigil (its CA differs)`, {
      hint: "Identities are valid only for the Vigil that issued them: enroll again with --save-identities DIR.",
    });
  return parsed.data;
}
