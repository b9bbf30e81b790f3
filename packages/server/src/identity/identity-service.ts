import { VigilError, parseDeviceId, type Clock, type DeviceId } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";
import type { CertificateAuthority } from "./pki/index.js";
import type { CertificateRecord, CertificateRepository, DeviceRepository } from "./ports.js";

export const REVOCATION_REASONS = [
  "unspecified",
  "keyCompromise",
  "cessationOfOperation",
  "superseded",
  "affiliationChanged",
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/**
 * Certificate state of the fleet: revocation (device and all its certificates, at once) and
 * the CRL, regenerated when a revocation changes it and otherwise served from cache until
 * its nextUpdate is near.
 */
export class IdentityService {
  readonly #ca: CertificateAuthority;
  readonly #devices: DeviceRepository;
  readonly #certificates: CertificateRepository;
  readonly #bus: SignalBus;
  readonly #clock: Clock;
  #crl: { der: Buffer; until: number } | undefined;

  constructor(deps: {
    ca: CertificateAuthority;
    devices: DeviceRepository;
    certificates: CertificateRepository;
    bus: SignalBus;
    clock: Clock;
  }) {
    this.#ca = deps.ca;
    this.#devices = deps.devices;
    this.#certificates = deps.certificates;
    this.#bus = deps.bus;
    this.#clock = deps.clock;
  }

  async certificatesOf(rawId: string): Promise<CertificateRecord[]> {
    return this.#certificates.listForDevice(await this.#existing(rawId));
  }

  async revokeDevice(rawId: string, reason: RevocationReason, by: string): Promise<string[]> {
    const id = await this.#existing(rawId);
    const serials = await this.#devices.revoke(id, this.#clock.now(), reason);
    this.#crl = undefined;
    this.#bus.emit("identity.revoked", { device: id, serials, reason, by });
    return serials;
  }

  /** DER CRL of the issuing CA (RFC 5280), valid 24 h, refreshed within an hour of expiry or on revocation. */
  async crl(): Promise<Buffer> {
    const now = this.#clock.now();
    if (this.#crl !== undefined && now < this.#crl.until) return this.#crl.der;
    const revoked = await this.#certificates.listRevoked(now);
    const der = await this.#ca.crl(
      revoked.map((c) => ({ serial: c.serial, revokedAt: c.revokedAt ?? now, reason: c.revocationReason })),
    );
    this.#crl = { der, until: now + 23 * 3_600_000 };
    return der;
  }

  async #existing(rawId: string): Promise<DeviceId> {
    const id = parseDeviceId(rawId);
    if (id === undefined || (await this.#devices.get(id)) === undefined) {
      throw new VigilError("DEVICE_NOT_FOUND", `no device with id ${JSON.stringify(rawId.slice(0, 128))}`, {
        hint: "List devices with `vigil devices list`.",
      });
    }
    return id;
  }
}
