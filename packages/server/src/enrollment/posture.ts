import { z } from "zod";
import { VigilError } from "../core/index.js";

/**
 * What a device declares about itself when it enrolls (its posture at the door): sent with
 * `simpleenroll` as the `Vigil-Posture` header, base64url of this JSON. Declared, not proven:
 * scanning and scoring weigh it against the attestation.
 */
export const Posture = z
  .object({
    profile: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/)
      .optional(),
    firmwareVersion: z.string().min(1).max(64).optional(),
    sbomRef: z.string().min(1).max(512).optional(),
  })
  .strict();
export type Posture = z.infer<typeof Posture>;

export const POSTURE_HEADER = "vigil-posture";

export function parsePosture(header: string | undefined): Posture {
  if (header === undefined || header === "") return {};
  if (header.length > 4096) throw invalid("the header is longer than 4096 characters");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
  } catch (error) {
    throw invalid(`it is not base64url of JSON (${(error as Error).message})`, error);
  }
  const parsed = Posture.safeParse(value);
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "));
  return parsed.data;
}

export function encodePosture(posture: Posture): string {
  return Buffer.from(JSON.stringify(posture)).toString("base64url");
}

function invalid(why: string, cause?: unknown): VigilError {
  return new VigilError("ENROLLMENT_POSTURE_INVALID", `the Vigil-Posture header is invalid: ${why}`, {
    cause,
    hint: 'Send base64url of JSON such as {"profile":"smart-meter","firmwareVersion":"1.2.0"}, or omit the header.',
  });
}
