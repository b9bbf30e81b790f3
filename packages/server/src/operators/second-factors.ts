import { VigilError, type Clock, type OperatorId } from "../core/index.js";
import {
  newRecoveryCodes,
  newTotpSecret,
  recoveryCodeDigest,
  totpUri,
  verifyTotp,
  verifyWebAuthnAuthentication,
  verifyWebAuthnRegistration,
  webauthnAuthenticationOptions,
  webauthnRegistrationOptions,
  type RelyingParty,
  type SealedField,
  type WebAuthnKey,
} from "../identity/index.js";
import type { SignalBus } from "../signals/index.js";
import type { MfaRepository, OperatorRecord, WebAuthnCredentialRecord } from "./ports.js";

export interface SecondFactorDeps {
  readonly mfa: MfaRepository;
  /** Seals TOTP secrets at rest (data key of `operator_mfa`). */
  readonly sealed: () => Promise<SealedField>;
  readonly clock: Clock;
  readonly bus: SignalBus;
  readonly relyingParty: () => RelyingParty;
}

export type FactorAnswer = { totp: string } | { recoveryCode: string };

export interface MfaStatus {
  readonly totp: boolean;
  readonly webauthn: { id: string; name: string; createdAt: number }[];
  readonly recoveryCodesLeft: number;
}

const toKey = (c: WebAuthnCredentialRecord): WebAuthnKey => ({
  id: c.id,
  publicKey: c.publicKey,
  counter: c.counter,
  transports: c.transports,
});

/**
 * An operator's second factors: TOTP (RFC 6238), WebAuthn, and ten single-use recovery
 * codes. Enrolment is two-step for TOTP (the secret is shown once, then confirmed with a
 * first code); the first factor enrolled also hands out the recovery codes.
 */
export class SecondFactors {
  readonly #d: SecondFactorDeps;
  /** WebAuthn registration challenges by operator (in memory, short-lived). */
  readonly #registrations = new Map<OperatorId, { challenge: string; at: number }>();

  constructor(deps: SecondFactorDeps) {
    this.#d = deps;
  }

  async enrolled(operatorId: OperatorId): Promise<boolean> {
    const totp = await this.#d.mfa.getTotp(operatorId);
    if (totp?.confirmedAt != null) return true;
    return (await this.#d.mfa.listWebAuthn(operatorId)).length > 0;
  }

  async methods(operatorId: OperatorId): Promise<string[]> {
    const out: string[] = [];
    const totp = await this.#d.mfa.getTotp(operatorId);
    if (totp?.confirmedAt != null) out.push("totp");
    if ((await this.#d.mfa.listWebAuthn(operatorId)).length > 0) out.push("webauthn");
    if ((await this.#d.mfa.recoveryCodesLeft(operatorId)) > 0) out.push("recovery-code");
    return out;
  }

  async status(operatorId: OperatorId): Promise<MfaStatus> {
    const totp = await this.#d.mfa.getTotp(operatorId);
    return {
      totp: totp?.confirmedAt != null,
      webauthn: (await this.#d.mfa.listWebAuthn(operatorId)).map((c) => ({ id: c.id, name: c.name, createdAt: c.createdAt })),
      recoveryCodesLeft: await this.#d.mfa.recoveryCodesLeft(operatorId),
    };
  }

  /** Step 1 of TOTP enrolment: a fresh secret, sealed at rest, shown once as an otpauth URI. */
  async startTotp(operator: OperatorRecord): Promise<{ secret: string; otpauthUri: string }> {
    const secret = newTotpSecret();
    const sealed = await this.#d.sealed();
    await this.#d.mfa.setPendingTotp(operator.id, sealed.seal(secret, `${operator.id}:pending`), this.#d.clock.now());
    return { secret, otpauthUri: totpUri(secret, operator.username) };
  }

  /**
   * Step 2: the first code proves the authenticator holds the secret. Returns fresh recovery
   * codes when this is the operator's first factor (otherwise the existing ones stay).
   */
  async confirmTotp(operator: OperatorRecord, code: string): Promise<{ recoveryCodes: string[] }> {
    const pending = await this.#d.mfa.getPendingTotp(operator.id);
    if (pending === undefined) {
      throw new VigilError("OPERATOR_MFA_NOT_PENDING", "no TOTP enrolment is waiting for confirmation", {
        hint: "Start one first: POST /api/v1/auth/mfa/totp (or `vigil login`).",
      });
    }
    const sealed = await this.#d.sealed();
    const secret = sealed.open(pending, `${operator.id}:pending`);
    const step = await verifyTotp(secret, code, this.#d.clock.now(), null);
    if (step === undefined) throw badFactor("the TOTP code does not match the new secret");
    const first = !(await this.enrolled(operator.id));
    // Re-sealed under the confirmed context, so a pending value can never pass as confirmed.
    await this.#d.mfa.setPendingTotp(operator.id, sealed.seal(secret, `${operator.id}:totp`), this.#d.clock.now());
    await this.#d.mfa.confirmTotp(operator.id, step, this.#d.clock.now());
    this.#d.bus.emit("operator.mfa_enrolled", { operator: operator.username, method: "totp" });
    return { recoveryCodes: first ? await this.newRecoveryCodes(operator) : [] };
  }

  async newRecoveryCodes(operator: OperatorRecord): Promise<string[]> {
    const codes = newRecoveryCodes(10);
    await this.#d.mfa.replaceRecoveryCodes(operator.id, codes.map(recoveryCodeDigest), this.#d.clock.now());
    this.#d.bus.emit("operator.recovery_codes_issued", { operator: operator.username, count: codes.length });
    return codes;
  }

  /** Checks a TOTP or recovery code; true once per code. */
  async verify(operator: OperatorRecord, answer: FactorAnswer): Promise<boolean> {
    if ("totp" in answer) {
      const totp = await this.#d.mfa.getTotp(operator.id);
      if (totp === undefined || totp.confirmedAt === null) return false;
      const secret = (await this.#d.sealed()).open(totp.sealedSecret, `${operator.id}:totp`);
      const step = await verifyTotp(secret, answer.totp, this.#d.clock.now(), totp.lastStep);
      return step !== undefined && (await this.#d.mfa.useTotpStep(operator.id, step));
    }
    const used = await this.#d.mfa.useRecoveryCode(operator.id, recoveryCodeDigest(answer.recoveryCode), this.#d.clock.now());
    if (used) {
      this.#d.bus.emit("operator.recovery_code_used", {
        operator: operator.username,
        remaining: await this.#d.mfa.recoveryCodesLeft(operator.id),
      });
    }
    return used;
  }

  async webauthnRegistrationOptions(operator: OperatorRecord): Promise<Record<string, unknown>> {
    const existing = (await this.#d.mfa.listWebAuthn(operator.id)).map(toKey);
    const { options, challenge } = await webauthnRegistrationOptions(
      this.#d.relyingParty(),
      { id: operator.id, name: operator.username },
      existing,
    );
    this.#registrations.set(operator.id, { challenge, at: this.#d.clock.now() });
    return options;
  }

  async registerWebAuthn(
    operator: OperatorRecord,
    response: Record<string, unknown>,
    name: string | undefined,
  ): Promise<{ credentialId: string; recoveryCodes: string[] }> {
    const pending = this.#registrations.get(operator.id);
    this.#registrations.delete(operator.id);
    if (pending === undefined || this.#d.clock.now() - pending.at > 5 * 60_000) {
      throw new VigilError("OPERATOR_MFA_NOT_PENDING", "no WebAuthn registration is waiting (or it expired)", {
        hint: "Ask for registration options first: POST /api/v1/auth/mfa/webauthn/register/options.",
      });
    }
    const key = await verifyWebAuthnRegistration(this.#d.relyingParty(), response, pending.challenge);
    const first = !(await this.enrolled(operator.id));
    const now = this.#d.clock.now();
    await this.#d.mfa.addWebAuthn({
      ...key,
      operatorId: operator.id,
      name: name ?? `key ${new Date(now).toISOString().slice(0, 10)}`,
      createdAt: now,
      lastUsedAt: null,
    });
    this.#d.bus.emit("operator.mfa_enrolled", { operator: operator.username, method: "webauthn" });
    return { credentialId: key.id, recoveryCodes: first ? await this.newRecoveryCodes(operator) : [] };
  }

  /** Options for a WebAuthn assertion; the caller keeps the challenge with its login challenge. */
  async webauthnLoginOptions(operator: OperatorRecord): Promise<{ options: Record<string, unknown>; challenge: string }> {
    const keys = (await this.#d.mfa.listWebAuthn(operator.id)).map(toKey);
    if (keys.length === 0) throw badFactor("the operator has no WebAuthn credential");
    return webauthnAuthenticationOptions(this.#d.relyingParty(), keys);
  }

  async verifyWebAuthn(operator: OperatorRecord, response: Record<string, unknown>, challenge: string): Promise<void> {
    const keys = (await this.#d.mfa.listWebAuthn(operator.id)).map(toKey);
    const { key, newCounter } = await verifyWebAuthnAuthentication(this.#d.relyingParty(), response, challenge, keys);
    // A counter that does not grow (when the authenticator keeps one) suggests a cloned key (WebAuthn §6.1.1).
    if (key.counter !== 0 && newCounter <= key.counter) throw badFactor("the authenticator's signature counter went back");
    await this.#d.mfa.updateWebAuthnCounter(key.id, newCounter, this.#d.clock.now());
  }

  async reset(operatorId: OperatorId): Promise<void> {
    this.#registrations.delete(operatorId);
    await this.#d.mfa.clear(operatorId);
  }
}

export function badFactor(message: string): VigilError {
  return new VigilError("AUTH_MFA_INVALID", message, {
    hint: "Use the current code of your authenticator app (each code works once), an unused recovery code, or your security key.",
  });
}
