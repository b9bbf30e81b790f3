import { X509Certificate } from "node:crypto";
import {
  VigilError,
  isVigilError,
  iso,
  newId,
  parseDeviceId,
  type Clock,
  type DeviceId,
  type Logger,
  type Millis,
} from "../core/index.js";
import {
  checkChain,
  newDeviceRecord,
  parseCsr,
  sha256Hex,
  type AttestationMethod,
  type CertificateAuthority,
  type CertificateRecord,
  type CertificateRepository,
  type DeviceRecord,
  type DeviceRepository,
  type IssuedCertificate,
  type ValidCsr,
} from "../identity/index.js";
import type { SignalBus } from "../signals/index.js";
import { mintClaimToken, secretMatches, splitClaimToken } from "./claim-tokens.js";
import { parsePosture, type Posture } from "./posture.js";
import { parsePreregistrationCsv } from "./preregistration.js";
import type { ReadmissionRecord, ReadmissionRepository } from "./readmission.js";
import type {
  EnrollmentLedger,
  EnrollmentTokenRecord,
  EnrollmentTokenRepository,
  ManufacturerRecord,
  ManufacturerRepository,
} from "./ports.js";

/** How much each attestation method proves, 0..100; the trust score starts from it. */
export const ATTESTATION_STRENGTH = {
  "manufacturer-certificate": 90,
  "pre-registered-key": 70,
  "claim-token-bound": 50,
  "claim-token": 40,
} as const;

export interface EnrollmentRequest {
  /** The EST body: base64 DER PKCS#10. */
  readonly body: string | Buffer;
  readonly authorization: string | undefined;
  /** Certificates the TLS client presented, leaf first (empty when none). */
  readonly clientChain: readonly X509Certificate[];
  readonly postureHeader: string | undefined;
  readonly remote: string;
}

export interface EnrollmentResult {
  readonly deviceId: DeviceId;
  readonly method: AttestationMethod;
  readonly certificate: IssuedCertificate;
}

export interface EnrollmentDeps {
  readonly ca: CertificateAuthority;
  readonly devices: DeviceRepository;
  readonly certificates: CertificateRepository;
  readonly manufacturers: ManufacturerRepository;
  readonly tokens: EnrollmentTokenRepository;
  readonly ledger: EnrollmentLedger;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly deviceCertValidityDays: number;
  /** Is this a known device profile id? (policy owns the catalogue) */
  readonly knownProfile: (id: string) => boolean;
  /** Revoked devices an incident asked to re-admit after they pass the checks again (absent: none). */
  readonly readmissions?: ReadmissionRepository | undefined;
}

type Attestation =
  | { method: "manufacturer-certificate"; strength: number; manufacturerId: string; factoryCertSha256: string }
  | { method: "claim-token"; strength: number; token: EnrollmentTokenRecord }
  | { method: "pre-registered-key"; strength: number };

/**
 * Zero-touch enrollment (RFC 7030 simpleenroll/simplereenroll) with pluggable attestation:
 * a manufacturer certificate (IEEE 802.1AR IDevID style) over mutual TLS, a one-time claim
 * token, or a pre-registered public key. The device's private key never leaves it: it sends
 * a CSR and receives its certificate.
 */
export class EnrollmentService {
  readonly #d: EnrollmentDeps;
  /** Parsed manufacturer CA certificates, by fingerprint (parsing costs more than the check). */
  readonly #caCache = new Map<string, X509Certificate>();

  constructor(deps: EnrollmentDeps) {
    this.#d = deps;
  }

  async enroll(request: EnrollmentRequest): Promise<EnrollmentResult> {
    let claimed: string | undefined;
    try {
      const posture = parsePosture(request.postureHeader);
      const csr = await parseCsr(request.body);
      claimed = csr.deviceId;
      const existing = await this.#d.devices.get(csr.deviceId);
      let readmission: ReadmissionRecord | undefined;
      if (existing?.state === "revoked") {
        readmission = await this.#d.readmissions?.pending(csr.deviceId);
        if (readmission === undefined)
          throw new VigilError("DEVICE_REVOKED", `device ${csr.deviceId} has been revoked`, {
            hint: "An operator must re-admit it before it can enroll again.",
          });
        await this.#freshKey(csr);
      } else if (existing !== undefined && existing.state !== "pending") {
        throw new VigilError("ENROLLMENT_ALREADY_ENROLLED", `device ${csr.deviceId} is already enrolled`, {
          hint: "Renew its certificate with simplereenroll, authenticated by the current one.",
        });
      }
      if (readmission === undefined && existing?.expectedKeySha256 != null && existing.expectedKeySha256 !== csr.keySha256) {
        throw new VigilError(
          "ENROLLMENT_KEY_NOT_REGISTERED",
          `device ${csr.deviceId} was pre-registered with another public key`,
          {
            hint: "Enroll with the key whose fingerprint the operator registered.",
          },
        );
      }
      const attestation = await this.#attest(request, csr, readmission === undefined ? existing : undefined);
      if (
        readmission !== undefined &&
        attestation.method === "manufacturer-certificate" &&
        existing?.factoryCertSha256 != null &&
        existing.factoryCertSha256 !== attestation.factoryCertSha256
      )
        throw new VigilError(
          "ENROLLMENT_SUBJECT_MISMATCH",
          `device ${csr.deviceId} enrolled with another factory certificate; re-admission needs the same one`,
          { hint: "Re-attest with the device's own factory identity, or with a claim token bound to it." },
        );
      const profile = this.#profileFor(attestation, posture, existing);
      const certificate = await this.#d.ca.issueDevice(csr, csr.deviceId, this.#d.deviceCertValidityDays);
      const now = this.#d.clock.now();
      const device: DeviceRecord = newDeviceRecord({
        ...(existing ?? {}),
        id: csr.deviceId,
        createdAt: existing?.createdAt ?? now,
        profile,
        state: "active",
        firmwareVersion: posture.firmwareVersion ?? null,
        sbomRef: posture.sbomRef ?? null,
        attestationMethod: attestation.method,
        attestationStrength: attestation.strength,
        keyType: csr.keyType,
        manufacturerId: attestation.method === "manufacturer-certificate" ? attestation.manufacturerId : null,
        factoryCertSha256: attestation.method === "manufacturer-certificate" ? attestation.factoryCertSha256 : null,
        enrolledAt: now,
      });
      // Stored before it is returned: a certificate that was not stored is never handed out.
      const record = {
        device,
        certificate: certificateRecord(certificate, csr.deviceId, csr.keySha256, now),
        tokenId: attestation.method === "claim-token" ? attestation.token.id : null,
        at: now,
      };
      if (readmission !== undefined && this.#d.readmissions !== undefined) await this.#d.readmissions.readmit(record);
      else await this.#d.ledger.recordEnrollment({ ...record, completesPending: existing !== undefined });
      this.#d.bus.emit("identity.issued", {
        device: csr.deviceId,
        serial: certificate.serial,
        notAfter: iso(certificate.notAfter),
        renewal: false,
      });
      this.#d.bus.emit("enrollment.completed", {
        device: csr.deviceId,
        method: attestation.method,
        strength: attestation.strength,
        profile,
        firmwareVersion: device.firmwareVersion,
        sbomRef: device.sbomRef,
        keyType: csr.keyType,
        serial: certificate.serial,
        remote: request.remote,
      });
      return { deviceId: csr.deviceId, method: attestation.method, certificate };
    } catch (error) {
      if (isVigilError(error)) {
        if (error.code === "ENROLLMENT_FACTORY_CERT_REUSED") {
          this.#d.bus.emit("identity.cloned_suspected", {
            device: claimed ?? "unknown",
            remotes: [request.remote],
            sameHost: false,
            serials: [],
          });
        }
        if (error.code === "ENROLLMENT_TOKEN_REPLAYED") {
          this.#d.bus.emit("enrollment.token_replayed", {
            tokenId: typeof error.details?.tokenId === "string" ? error.details.tokenId : "unknown",
            device: claimed ?? null,
            remote: request.remote,
          });
        }
        this.#d.bus.emit("enrollment.failed", { code: error.code, device: claimed ?? null, remote: request.remote });
      }
      throw error;
    }
  }

  /** RFC 7030 §4.2.2: renewal authenticated by the current, valid, unrevoked certificate; same subject. */
  async reenroll(request: EnrollmentRequest): Promise<EnrollmentResult> {
    let claimed: string | undefined;
    try {
      const leaf = request.clientChain[0];
      if (leaf === undefined) {
        throw new VigilError("IDENTITY_CERT_UNKNOWN", "simplereenroll needs the device's current certificate over mutual TLS", {
          hint: "Connect with the certificate Vigil issued to this device.",
        });
      }
      if (!this.#d.ca.issuedByUs(leaf)) {
        throw new VigilError("IDENTITY_CERT_UNKNOWN", "the client certificate was not issued by this Vigil", {
          hint: "Use simpleenroll with an attestation to enroll.",
        });
      }
      const serial = leaf.serialNumber.toLowerCase().replace(/^0+/, "");
      const record =
        (await this.#d.certificates.get(serial)) ?? (await this.#d.certificates.get(leaf.serialNumber.toLowerCase()));
      if (record === undefined)
        throw new VigilError("IDENTITY_CERT_UNKNOWN", `certificate ${serial} is not in the store`, {
          hint: "Enroll again with an attestation.",
        });
      claimed = record.deviceId;
      if (record.revokedAt !== null) {
        throw new VigilError("IDENTITY_CERT_REVOKED", `certificate ${record.serial} was revoked at ${iso(record.revokedAt)}`, {
          hint: "The device must be re-admitted by an operator.",
        });
      }
      const now = this.#d.clock.now();
      if (now < record.notBefore || now >= record.notAfter) {
        throw new VigilError(
          "IDENTITY_CERT_EXPIRED",
          `certificate ${record.serial} is valid only from ${iso(record.notBefore)} to ${iso(record.notAfter)}`,
          {
            hint: "An expired certificate cannot renew itself: enroll again with an attestation.",
          },
        );
      }
      const device = await this.#d.devices.get(record.deviceId);
      if (device === undefined || device.state === "revoked") {
        throw new VigilError("DEVICE_REVOKED", `device ${record.deviceId} has been revoked`, {
          hint: "An operator must re-admit it.",
        });
      }
      const csr = await parseCsr(request.body);
      if (csr.deviceId !== record.deviceId) {
        throw new VigilError(
          "ENROLLMENT_SUBJECT_MISMATCH",
          `the request is for ${csr.deviceId} but the certificate belongs to ${record.deviceId}`,
          {
            hint: "A renewal keeps the same subject (RFC 7030 §4.2.2).",
          },
        );
      }
      const certificate = await this.#d.ca.issueDevice(csr, csr.deviceId, this.#d.deviceCertValidityDays);
      await this.#d.ledger.recordRenewal({
        certificate: certificateRecord(certificate, csr.deviceId, csr.keySha256, now),
        at: now,
      });
      this.#d.bus.emit("identity.issued", {
        device: csr.deviceId,
        serial: certificate.serial,
        notAfter: iso(certificate.notAfter),
        renewal: true,
      });
      return { deviceId: csr.deviceId, method: device.attestationMethod ?? "claim-token", certificate };
    } catch (error) {
      if (isVigilError(error))
        this.#d.bus.emit("enrollment.failed", { code: error.code, device: claimed ?? null, remote: request.remote });
      throw error;
    }
  }

  /** A re-admitted device proves itself with a key it never used: every earlier one may be compromised. */
  async #freshKey(csr: ValidCsr): Promise<void> {
    const earlier = await this.#d.certificates.listForDevice(csr.deviceId);
    if (earlier.some((c) => c.keySha256 === csr.keySha256))
      throw new VigilError("ENROLLMENT_KEY_REUSED", `device ${csr.deviceId} asked to be re-admitted with a key it used before`, {
        hint: "Generate a new key pair on the device (the SDK's reprovision() does) and enroll with it.",
      });
  }

  async #attest(request: EnrollmentRequest, csr: ValidCsr, existing: DeviceRecord | undefined): Promise<Attestation> {
    const token = claimTokenOf(request.authorization);
    let manufacturerError: VigilError | undefined;
    const factory = request.clientChain.filter((c) => !this.#d.ca.issuedByUs(c));
    if (factory.length > 0) {
      try {
        return await this.#manufacturer(factory);
      } catch (error) {
        if (!isVigilError(error)) throw error;
        manufacturerError = error;
      }
    }
    if (token !== undefined) return this.#claimToken(token, csr);
    if (manufacturerError !== undefined) throw manufacturerError;
    if (existing?.expectedKeySha256 != null)
      return { method: "pre-registered-key", strength: ATTESTATION_STRENGTH["pre-registered-key"] };
    throw new VigilError("ENROLLMENT_AUTH_REQUIRED", `device ${csr.deviceId} presented no attestation`, {
      hint: "Present a factory certificate over mutual TLS, a claim token as HTTP Basic password, or have the operator pre-register the device's key.",
    });
  }

  async #manufacturer(chain: readonly X509Certificate[]): Promise<Attestation> {
    const all = await this.#d.manufacturers.list();
    const anchors = all.map((m) => ({ m, cert: this.#parsedCa(m) }));
    const result = checkChain(
      chain,
      anchors.map((a) => a.cert),
      this.#d.clock.now(),
    );
    if (!result.ok) {
      throw new VigilError(
        "ENROLLMENT_MANUFACTURER_UNKNOWN",
        result.reason === "expired"
          ? "the factory certificate (or its CA) is not valid now"
          : "the factory certificate does not chain to a registered manufacturer CA",
        { hint: "Register the manufacturer's CA with `vigil manufacturers add ca.pem`." },
      );
    }
    const manufacturer = anchors.find((a) => a.cert === result.anchor)?.m as ManufacturerRecord;
    if (manufacturer.revokedAt !== null) {
      throw new VigilError(
        "ENROLLMENT_MANUFACTURER_REVOKED",
        `manufacturer ${manufacturer.name} was revoked at ${iso(manufacturer.revokedAt)}`,
        {
          hint: "Devices of a revoked manufacturer cannot enroll with their factory certificate.",
        },
      );
    }
    const serial = result.leaf.serialNumber.toLowerCase();
    if (manufacturer.serialAllowlist !== null && !manufacturer.serialAllowlist.includes(serial)) {
      throw new VigilError(
        "ENROLLMENT_SERIAL_NOT_ALLOWED",
        `factory certificate serial ${serial} is not on ${manufacturer.name}'s allowlist`,
        {
          hint: "Add the serial to the manufacturer's allowlist.",
        },
      );
    }
    return {
      method: "manufacturer-certificate",
      strength: ATTESTATION_STRENGTH["manufacturer-certificate"],
      manufacturerId: manufacturer.id,
      factoryCertSha256: sha256Hex(result.leaf.raw),
    };
  }

  #parsedCa(m: ManufacturerRecord): X509Certificate {
    let cert = this.#caCache.get(m.caSha256);
    if (cert === undefined) {
      cert = new X509Certificate(m.caPem);
      this.#caCache.set(m.caSha256, cert);
    }
    return cert;
  }

  async #claimToken(token: string, csr: ValidCsr): Promise<Attestation> {
    const { id, secret } = splitClaimToken(token);
    const record = await this.#d.tokens.get(id);
    if (record === undefined || !secretMatches(record, secret)) {
      throw new VigilError("ENROLLMENT_TOKEN_INVALID", "the claim token is unknown", {
        hint: "Use a token from `vigil tokens create`.",
      });
    }
    if (record.usedAt !== null) {
      throw new VigilError("ENROLLMENT_TOKEN_REPLAYED", `claim token ${record.id} was already used at ${iso(record.usedAt)}`, {
        hint: "Each token enrolls one device once. Ask the operator for a new one.",
        details: { tokenId: record.id },
      });
    }
    if (record.expiresAt <= this.#d.clock.now()) {
      throw new VigilError("ENROLLMENT_TOKEN_EXPIRED", `claim token ${record.id} expired at ${iso(record.expiresAt)}`, {
        hint: "Ask the operator for a new token.",
      });
    }
    if (record.deviceId !== null && record.deviceId !== csr.deviceId) {
      throw new VigilError(
        "ENROLLMENT_SUBJECT_MISMATCH",
        `the claim token is bound to device ${record.deviceId}, the request is for ${csr.deviceId}`,
        {
          hint: "Use the device id the token was created for.",
        },
      );
    }
    return {
      method: "claim-token",
      strength: record.deviceId !== null ? ATTESTATION_STRENGTH["claim-token-bound"] : ATTESTATION_STRENGTH["claim-token"],
      token: record,
    };
  }

  #profileFor(attestation: Attestation, posture: Posture, existing: DeviceRecord | undefined): string | null {
    const bound = attestation.method === "claim-token" ? attestation.token.profile : (existing?.profile ?? null);
    if (bound !== null && posture.profile !== undefined && posture.profile !== bound) {
      throw new VigilError(
        "ENROLLMENT_POSTURE_INVALID",
        `the device declares profile ${posture.profile} but is bound to ${bound}`,
        {
          hint: "Declare the profile the token or pre-registration names, or none.",
        },
      );
    }
    const profile = bound ?? posture.profile ?? null;
    if (profile !== null && !this.#d.knownProfile(profile)) {
      throw new VigilError("PROFILE_UNKNOWN", `no device profile ${profile}`, {
        hint: "Use one of the profiles listed by the API.",
      });
    }
    return profile;
  }

  // ---- operator side -------------------------------------------------------------------

  async createTokens(input: {
    profile: string;
    deviceId?: string | undefined;
    ttlSeconds: number;
    count: number;
    by: string;
  }): Promise<{ tokens: string[]; expiresAt: Millis }> {
    if (!this.#d.knownProfile(input.profile))
      throw new VigilError("PROFILE_UNKNOWN", `no device profile ${input.profile}`, {
        hint: "Use one of the shipped profile ids.",
      });
    let deviceId: DeviceId | null = null;
    if (input.deviceId !== undefined) {
      deviceId = parseDeviceId(input.deviceId) ?? null;
      if (deviceId === null)
        throw new VigilError("DEVICE_ID_INVALID", `device id ${JSON.stringify(input.deviceId.slice(0, 140))} is not valid`, {
          hint: "Use letters, digits, '.', '_' or '-'.",
        });
      if (input.count !== 1)
        throw new VigilError("REQUEST_INVALID", "a token bound to one device id must be created alone (count 1)", {
          hint: "Drop --count or --device.",
        });
    }
    const minted = Array.from({ length: input.count }, () =>
      mintClaimToken({
        profile: input.profile,
        deviceId,
        ttlMs: input.ttlSeconds * 1000,
        createdBy: input.by,
        clock: this.#d.clock,
      }),
    );
    await this.#d.tokens.insertMany(minted.map((m) => m.record));
    const expiresAt = minted[0]?.record.expiresAt ?? this.#d.clock.now();
    this.#d.bus.emit("enrollment.tokens_created", {
      by: input.by,
      profile: input.profile,
      count: minted.length,
      deviceId,
      ids: minted.map((m) => m.record.id),
      expiresAt: iso(expiresAt),
    });
    return { tokens: minted.map((m) => m.token), expiresAt };
  }

  /**
   * A one-time claim token bound to one device, for re-provisioning it with a fresh key: the
   * token goes to the device only (over its control channel); its id is what others see.
   */
  async reprovisionToken(
    device: DeviceId,
    ttlMs: number,
    by: string,
  ): Promise<{ token: string; tokenId: string; expiresAt: Millis }> {
    const record = await this.#d.devices.get(device);
    if (record?.profile == null)
      throw new VigilError("DEVICE_NOT_FOUND", `device ${device} has no profile to bind a re-provisioning token to`, {
        hint: "Re-provisioning needs an enrolled device.",
      });
    const { tokens, expiresAt } = await this.createTokens({
      profile: record.profile,
      deviceId: device,
      ttlSeconds: Math.max(60, Math.ceil(ttlMs / 1000)),
      count: 1,
      by,
    });
    const token = tokens[0] as string;
    return { token, tokenId: splitClaimToken(token).id, expiresAt };
  }

  listTokens(includeUsed: boolean): Promise<EnrollmentTokenRecord[]> {
    return this.#d.tokens.list({ includeUsed });
  }

  async addManufacturer(input: {
    name: string;
    caPem: string;
    serials?: readonly string[] | undefined;
    by: string;
  }): Promise<ManufacturerRecord> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(input.caPem);
    } catch (error) {
      throw new VigilError("MANUFACTURER_INVALID", "the manufacturer CA is not a PEM X.509 certificate", {
        cause: error,
        hint: "Give the CA certificate that signs the devices' factory certificates.",
      });
    }
    if (!cert.ca)
      throw new VigilError("MANUFACTURER_INVALID", `${cert.subject.replace(/\n/g, ", ")} is not a CA certificate`, {
        hint: "Give the manufacturer's CA, not a device certificate.",
      });
    if (Date.parse(cert.validTo) <= this.#d.clock.now())
      throw new VigilError("MANUFACTURER_INVALID", `the manufacturer CA expired on ${cert.validTo}`, {
        hint: "Ask the manufacturer for its current CA.",
      });
    const serials = input.serials
      ?.map((s) =>
        s
          .trim()
          .toLowerCase()
          .replace(/:/g, "")
          .replace(/^0+(?=.)/, ""),
      )
      .filter((s) => s !== "");
    if (serials?.some((s) => !/^[0-9a-f]{1,40}$/.test(s)))
      throw new VigilError("MANUFACTURER_INVALID", "serial allowlist entries must be hex serial numbers", {
        hint: "One hex serial per line.",
      });
    const record: ManufacturerRecord = {
      id: newId("mfr", 9),
      name: input.name,
      caPem: cert.toString(),
      caSha256: sha256Hex(cert.raw),
      serialAllowlist: serials ?? null,
      createdAt: this.#d.clock.now(),
      revokedAt: null,
    };
    await this.#d.manufacturers.insert(record);
    this.#d.bus.emit("manufacturer.added", { id: record.id, name: record.name, caSha256: record.caSha256, by: input.by });
    return record;
  }

  listManufacturers(): Promise<ManufacturerRecord[]> {
    return this.#d.manufacturers.list();
  }

  async revokeManufacturer(id: string, by: string): Promise<ManufacturerRecord> {
    const record = await this.#d.manufacturers.get(id);
    if (record === undefined)
      throw new VigilError("MANUFACTURER_NOT_FOUND", `no manufacturer ${id}`, {
        hint: "List them with `vigil manufacturers list`.",
      });
    await this.#d.manufacturers.revoke(id, this.#d.clock.now());
    this.#d.bus.emit("manufacturer.revoked", { id, name: record.name, by });
    return (await this.#d.manufacturers.get(id)) as ManufacturerRecord;
  }

  /** Imports a pre-registration CSV atomically: all devices (into `site`), or none. */
  async preregister(csv: string, by: string, site = "default"): Promise<number> {
    const rows = parsePreregistrationCsv(csv);
    const unknown = [...new Set(rows.map((r) => r.profile).filter((p): p is string => p !== null && !this.#d.knownProfile(p)))];
    if (unknown.length > 0)
      throw new VigilError("PROFILE_UNKNOWN", `unknown profile(s): ${unknown.join(", ")}; nothing was imported`, {
        hint: "Use shipped profile ids.",
      });
    const now = this.#d.clock.now();
    try {
      await this.#d.devices.insertMany(
        rows.map((r) =>
          newDeviceRecord({ id: r.deviceId, createdAt: now, profile: r.profile, expectedKeySha256: r.keySha256, site }),
        ),
      );
    } catch (error) {
      if (isVigilError(error, "STORE_CONFLICT")) {
        throw new VigilError("DEVICE_EXISTS", `${error.message}; nothing was imported`, {
          cause: error,
          hint: "Remove the devices that already exist from the file.",
        });
      }
      throw error;
    }
    this.#d.bus.emit("device.preregistered", { count: rows.length, by });
    return rows.length;
  }
}

function claimTokenOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const [scheme, value] = authorization.split(" ", 2);
  if (value === undefined) return undefined;
  if (/^bearer$/i.test(scheme ?? "")) return value.trim();
  if (/^basic$/i.test(scheme ?? "")) {
    // RFC 7030 §3.2.3: HTTP Basic; the password carries the claim token, the user name is informative.
    const decoded = Buffer.from(value.trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon >= 0 ? decoded.slice(colon + 1) : decoded;
  }
  return undefined;
}

function certificateRecord(c: IssuedCertificate, deviceId: DeviceId, keySha256: string, now: Millis): CertificateRecord {
  return {
    serial: c.serial,
    deviceId,
    subject: c.subject,
    notBefore: c.notBefore as Millis,
    notAfter: c.notAfter as Millis,
    keySha256,
    pem: c.pem,
    issuedAt: now,
    revokedAt: null,
    revocationReason: null,
  };
}
