import { VigilError, type Clock, type DeviceId, type Millis } from "../core/index.js";
import { digestsEqual, randomSecret, secretDigest } from "../identity/index.js";
import type { EnrollmentTokenRecord } from "./ports.js";

const PREFIX = "vet1";
const ID = /^et_[A-Za-z0-9_-]{16}$/;

/** A fresh claim token: `vet1.<id>.<secret>`; only the SHA-256 of the secret is stored. */
export function mintClaimToken(input: {
  profile: string;
  deviceId: DeviceId | null;
  ttlMs: number;
  createdBy: string;
  clock: Clock;
}): {
  token: string;
  record: EnrollmentTokenRecord;
} {
  const id = `et_${randomSecret(12)}`;
  const secret = randomSecret();
  const now = input.clock.now();
  return {
    token: `${PREFIX}.${id}.${secret}`,
    record: {
      id,
      secretHash: secretDigest(secret),
      profile: input.profile,
      deviceId: input.deviceId,
      createdAt: now,
      expiresAt: (now + input.ttlMs) as Millis,
      usedAt: null,
      usedByDevice: null,
      createdBy: input.createdBy,
    },
  };
}

export function splitClaimToken(token: string): { id: string; secret: string } {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX || !ID.test(parts[1] ?? "") || (parts[2] ?? "").length !== 43) {
    throw new VigilError("ENROLLMENT_TOKEN_INVALID", "the claim token is malformed", {
      hint: "Use the token exactly as `vigil tokens create` printed it.",
    });
  }
  return { id: parts[1] as string, secret: parts[2] as string };
}

export function secretMatches(record: EnrollmentTokenRecord, secret: string): boolean {
  return digestsEqual(record.secretHash, secretDigest(secret));
}
