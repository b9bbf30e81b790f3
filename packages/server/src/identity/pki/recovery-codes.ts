import { randomBytes } from "node:crypto";
import { secretDigest } from "./secrets.js";

const ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"; // 32 symbols, no 0/o, 1/l

/**
 * Recovery codes: 16 symbols of a 32-letter alphabet (80 bits) shown as `xxxx-xxxx-xxxx-xxxx`.
 * High entropy, so a SHA-256 digest is a sufficient way to store them.
 */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(16);
    let code = "";
    for (let i = 0; i < 16; i++) code += ALPHABET[bytes[i]! & 31];
    return code.match(/.{4}/g)!.join("-");
  });
}

/** The stored form of a recovery code: typing variations (case, dashes, spaces) do not matter. */
export function recoveryCodeDigest(code: string): string {
  return secretDigest(`vigil-recovery:${code.toLowerCase().replace(/[^a-z0-9]/g, "")}`);
}
