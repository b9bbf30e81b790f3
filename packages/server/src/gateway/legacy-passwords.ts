import { VigilError, parseDeviceId, type Clock, type DeviceId, type Millis } from "../core/index.js";
import { hashPassword, verifyPassword, type DeviceRepository } from "../identity/index.js";
import type { SignalBus } from "../signals/index.js";

/** A legacy device's MQTT password, as stored: argon2id only, never the password. */
export interface LegacyCredential {
  readonly device: DeviceId;
  readonly passwordHash: string;
  readonly setAt: Millis;
  readonly setBy: string;
}

/** Port: legacy devices' MQTT passwords (SQLite table `device_legacy_passwords`). */
export interface LegacyCredentialRepository {
  get(device: DeviceId): Promise<LegacyCredential | undefined>;
  /** Inserts or replaces the device's password. */
  set(credential: LegacyCredential): Promise<void>;
}

/** Operator-chosen device passwords: long enough that argon2id is not the only defence. */
export const LEGACY_PASSWORD_MIN_CHARS = 16;
export const LEGACY_PASSWORD_MAX_CHARS = 1024;

/**
 * Username/password for legacy devices that cannot hold a certificate (issue 4): an operator
 * sets the password, it is stored as argon2id, and the gateway checks it at CONNECT over
 * server-authenticated TLS when `mqtt.legacyPasswordAuth` is on. Such devices are marked
 * legacy: `device.legacy_auth_used` on each session, for trust to weigh.
 */
export class LegacyPasswords {
  readonly #credentials: LegacyCredentialRepository;
  readonly #devices: DeviceRepository;
  readonly #bus: SignalBus;
  readonly #clock: Clock;

  constructor(deps: { credentials: LegacyCredentialRepository; devices: DeviceRepository; bus: SignalBus; clock: Clock }) {
    this.#credentials = deps.credentials;
    this.#devices = deps.devices;
    this.#bus = deps.bus;
    this.#clock = deps.clock;
  }

  /** Sets (or replaces) a device's MQTT password; the device must exist and not be revoked. */
  async setPassword(rawId: string, password: string, by: string): Promise<{ device: DeviceId; setAt: Millis }> {
    const device = parseDeviceId(rawId);
    if (device === undefined)
      throw new VigilError("DEVICE_ID_INVALID", `device id ${JSON.stringify(rawId.slice(0, 140))} is not valid`);
    const record = await this.#devices.get(device);
    if (record === undefined) {
      throw new VigilError("DEVICE_NOT_FOUND", `no device with id ${JSON.stringify(rawId.slice(0, 128))}`, {
        hint: "Register the device first (`vigil devices register`).",
      });
    }
    if (record.state === "revoked") {
      throw new VigilError("DEVICE_REVOKED", `device ${device} is revoked`, {
        hint: "A revoked device cannot be given credentials again; register a new device id.",
      });
    }
    const chars = [...password].length;
    if (chars < LEGACY_PASSWORD_MIN_CHARS || chars > LEGACY_PASSWORD_MAX_CHARS) {
      throw new VigilError(
        "DEVICE_PASSWORD_WEAK",
        `a legacy device password must have ${LEGACY_PASSWORD_MIN_CHARS} to ${LEGACY_PASSWORD_MAX_CHARS} characters (it has ${chars})`,
        { hint: "Generate one, e.g. `openssl rand -base64 24 > device.pass`." },
      );
    }
    const setAt = this.#clock.now();
    await this.#credentials.set({ device, passwordHash: await hashPassword(password), setAt, setBy: by });
    this.#bus.emit("device.legacy_password_set", { device, by });
    return { device, setAt };
  }

  /**
   * Checks a CONNECT's password. Unknown devices cost the same argon2id verification (a
   * decoy hash), so timing does not tell which devices have a password.
   */
  async verify(device: DeviceId, password: string): Promise<boolean> {
    const credential = await this.#credentials.get(device);
    return verifyPassword(credential?.passwordHash, password);
  }
}
