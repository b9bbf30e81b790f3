import { generate, generateSecret, generateURI, verify } from "otplib";

/**
 * TOTP (RFC 6238) with the parameters every authenticator app understands: HMAC-SHA1,
 * 6 digits, 30-second steps, a 160-bit secret (RFC 4226 §4 asks for at least 128).
 */
export const TOTP_PERIOD_SECONDS = 30;

export function newTotpSecret(): string {
  return generateSecret();
}

/** The otpauth:// URI an authenticator app reads from a QR code (Key Uri Format). */
export function totpUri(secret: string, account: string, issuer = "Vigil"): string {
  return generateURI({ issuer, label: account, secret });
}

/** The code for `atMs` (tests and tools; the server only verifies). */
export function totpCode(secret: string, atMs: number): Promise<string> {
  return generate({ secret, epoch: Math.floor(atMs / 1000) });
}

/**
 * Checks `code` at `nowMs`, accepting one step of clock drift either way. Returns the time
 * step it matched, or undefined. A step at or before `afterStep` is refused: RFC 6238 §5.2,
 * a code is accepted once only.
 */
export async function verifyTotp(
  secret: string,
  code: string,
  nowMs: number,
  afterStep: number | null,
): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  try {
    const result = await verify({
      secret,
      token: code,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: TOTP_PERIOD_SECONDS,
      ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
    });
    return result.valid ? Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS) + result.delta : undefined;
  } catch {
    return undefined;
  }
}
