import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { VigilError } from "../../core/index.js";

/** Who Vigil is to a WebAuthn authenticator (W3C WebAuthn Level 2 §5.1.4, §7). */
export interface RelyingParty {
  readonly id: string;
  readonly name: string;
  /** Origins the console is served from (the API's own URL by default). */
  readonly origins: readonly string[];
}

/** A registered authenticator: only its public key (COSE, base64url) and signature counter are kept. */
export interface WebAuthnKey {
  readonly id: string;
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: readonly string[];
}

function refused(message: string, cause?: unknown): VigilError {
  return new VigilError("AUTH_MFA_INVALID", `WebAuthn: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
    hint: "Try again with a registered security key or passkey, or use a TOTP or recovery code.",
  });
}

export async function webauthnRegistrationOptions(
  rp: RelyingParty,
  user: { id: string; name: string },
  existing: readonly WebAuthnKey[],
): Promise<{ options: Record<string, unknown>; challenge: string }> {
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.name,
    userID: new TextEncoder().encode(user.id),
    attestationType: "none",
    excludeCredentials: existing.map((k) => ({ id: k.id, transports: [...k.transports] as AuthenticatorTransport[] })),
    authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
  });
  return { options: options as unknown as Record<string, unknown>, challenge: options.challenge };
}

/** Verifies a registration (attestation "none" accepted: Vigil does not pin authenticator models). */
export async function verifyWebAuthnRegistration(
  rp: RelyingParty,
  response: Record<string, unknown>,
  expectedChallenge: string,
): Promise<WebAuthnKey> {
  let result;
  try {
    result = await verifyRegistrationResponse({
      response: response as unknown as RegistrationResponseJSON,
      expectedChallenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.id,
      requireUserVerification: false,
    });
  } catch (error) {
    throw refused(`the registration does not verify (${(error as Error).message})`, error);
  }
  if (!result.verified) throw refused("the registration does not verify");
  const c = result.registrationInfo.credential;
  return {
    id: c.id,
    publicKey: Buffer.from(c.publicKey).toString("base64url"),
    counter: c.counter,
    transports: c.transports ?? [],
  };
}

export async function webauthnAuthenticationOptions(
  rp: RelyingParty,
  keys: readonly WebAuthnKey[],
): Promise<{ options: Record<string, unknown>; challenge: string }> {
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: keys.map((k) => ({ id: k.id, transports: [...k.transports] as AuthenticatorTransport[] })),
    userVerification: "preferred",
  });
  return { options: options as unknown as Record<string, unknown>, challenge: options.challenge };
}

/** Verifies an assertion by one of `keys`; returns the key used and its new signature counter. */
export async function verifyWebAuthnAuthentication(
  rp: RelyingParty,
  response: Record<string, unknown>,
  expectedChallenge: string,
  keys: readonly WebAuthnKey[],
): Promise<{ key: WebAuthnKey; newCounter: number }> {
  const key = keys.find((k) => k.id === response.id);
  if (key === undefined) throw refused("this credential is not registered for the operator");
  let result;
  try {
    result = await verifyAuthenticationResponse({
      response: response as unknown as AuthenticationResponseJSON,
      expectedChallenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.id,
      credential: {
        id: key.id,
        publicKey: new Uint8Array(Buffer.from(key.publicKey, "base64url")),
        counter: key.counter,
        transports: [...key.transports] as AuthenticatorTransport[],
      },
      requireUserVerification: false,
    });
  } catch (error) {
    throw refused(`the assertion does not verify (${(error as Error).message})`, error);
  }
  if (!result.verified) throw refused("the assertion does not verify");
  return { key, newCounter: result.authenticationInfo.newCounter };
}
