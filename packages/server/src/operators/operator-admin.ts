import { VigilError, newId, type Clock, type OperatorId } from "../core/index.js";
import { hashPassword, randomPassword } from "../identity/index.js";
import type { SignalBus } from "../signals/index.js";
import { ALL_SITES, isRole } from "./permissions.js";
import type { OperatorRecord, OperatorRepository, SessionRepository, TokenRepository } from "./ports.js";
import type { SecondFactors, MfaStatus } from "./second-factors.js";

export interface OperatorView {
  readonly record: OperatorRecord;
  readonly mfa: MfaStatus;
}

export interface OperatorAdminDeps {
  readonly operators: OperatorRepository;
  readonly tokens: TokenRepository;
  readonly sessions: SessionRepository;
  readonly factors: SecondFactors;
  readonly bus: SignalBus;
  readonly clock: Clock;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SITE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Operator management (admin only, enforced by the route's permission): create with a role
 * and sites, list, disable and enable, reset second factors. Disabling or resetting ends
 * every token and session of the operator at once.
 */
export class OperatorAdmin {
  readonly #d: OperatorAdminDeps;

  constructor(deps: OperatorAdminDeps) {
    this.#d = deps;
  }

  async list(): Promise<OperatorView[]> {
    const out: OperatorView[] = [];
    for (const record of await this.#d.operators.list()) out.push({ record, mfa: await this.#d.factors.status(record.id) });
    return out;
  }

  /** Creates an operator with a one-time password; at first login it must change it, then enrol a second factor. */
  async create(input: { username: string; role: string; sites: readonly string[]; by: string }): Promise<{
    view: OperatorView;
    oneTimePassword: string;
  }> {
    if (!USERNAME.test(input.username)) {
      throw new VigilError("OPERATOR_INVALID", `operator name ${JSON.stringify(input.username.slice(0, 70))} is not valid`, {
        hint: "Use 1-64 characters: a-z, 0-9, '.', '_', '-', starting with a letter or digit.",
      });
    }
    if (!isRole(input.role)) {
      throw new VigilError("OPERATOR_INVALID", `unknown role ${JSON.stringify(input.role.slice(0, 40))}`, {
        hint: "Roles: admin, security-operator, fleet-operator, auditor, device-integrator.",
      });
    }
    const sites = [...new Set(input.sites)];
    const bad = sites.filter((s) => s !== ALL_SITES && !SITE.test(s));
    if (sites.length === 0 || bad.length > 0 || (sites.includes(ALL_SITES) && sites.length > 1)) {
      throw new VigilError("OPERATOR_INVALID", `sites ${JSON.stringify(sites)} are not valid`, {
        hint: "Give site names (a-z, 0-9, '-'), or * alone for every site.",
      });
    }
    const oneTimePassword = randomPassword();
    const now = this.#d.clock.now();
    const record: OperatorRecord = {
      id: newId<OperatorId>("op"),
      username: input.username,
      passwordHash: await hashPassword(oneTimePassword),
      role: input.role,
      mustChangePassword: true,
      sites,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.#d.operators.insert(record);
    } catch (error) {
      if (error instanceof VigilError && error.code === "STORE_CONFLICT") {
        throw new VigilError("OPERATOR_EXISTS", `operator ${input.username} already exists`, {
          cause: error,
          hint: "Pick another name.",
        });
      }
      throw error;
    }
    this.#d.bus.emit("operator.created", { operator: input.username, by: input.by, role: input.role, sites });
    return { view: { record, mfa: await this.#d.factors.status(record.id) }, oneTimePassword };
  }

  async #find(username: string): Promise<OperatorRecord> {
    const record = await this.#d.operators.findByUsername(username);
    if (record === undefined) {
      throw new VigilError("OPERATOR_NOT_FOUND", `no operator named ${JSON.stringify(username.slice(0, 70))}`, {
        hint: "List operators with `vigil operators list`.",
      });
    }
    return record;
  }

  async #endAccess(record: OperatorRecord): Promise<void> {
    const now = this.#d.clock.now();
    await this.#d.tokens.revokeAllFor(record.id, now);
    await this.#d.sessions.revokeAllFor(record.id, now);
  }

  async setDisabled(username: string, disabled: boolean, by: string): Promise<OperatorView> {
    const record = await this.#find(username);
    if (disabled && record.username === by) {
      throw new VigilError("OPERATOR_INVALID", "an operator cannot disable itself", { hint: "Ask another admin." });
    }
    const now = this.#d.clock.now();
    await this.#d.operators.setDisabled(record.id, disabled ? now : null, now);
    if (disabled) await this.#endAccess(record);
    this.#d.bus.emit(disabled ? "operator.disabled" : "operator.enabled", { operator: record.username, by });
    const updated = (await this.#d.operators.findById(record.id)) as OperatorRecord;
    return { record: updated, mfa: await this.#d.factors.status(record.id) };
  }

  /** Removes every second factor and recovery code: at the next login the operator enrols again. */
  async resetMfa(username: string, by: string): Promise<OperatorView> {
    const record = await this.#find(username);
    await this.#d.factors.reset(record.id);
    await this.#endAccess(record);
    this.#d.bus.emit("operator.mfa_reset", { operator: record.username, by });
    return { record, mfa: await this.#d.factors.status(record.id) };
  }
}
