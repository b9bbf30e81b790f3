import {
  X509Certificate as NodeX509,
  createHash,
  createPrivateKey,
  sign as signBytes,
  webcrypto,
  type KeyObject,
} from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { VigilError, type Clock, type DeviceId, type Logger } from "../../core/index.js";
import type { ValidCsr } from "./csr.js";
import { bitString, children, integer, octetString, readTlv, seq, time, tlv } from "./der.js";
import type { KeyVault } from "./key-vault.js";
import {
  DAY_MS,
  EC_P256,
  EC_P384,
  ECDSA_SHA384,
  exportPkcs8Pem,
  importSigningKey,
  randomSerial,
  sha256Hex,
  x509,
  type CryptoKey,
} from "./x509-util.js";

export interface IssuedCertificate {
  readonly serial: string;
  readonly pem: string;
  readonly der: Buffer;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subject: string;
}

export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: number;
  readonly reason: string | null;
}

const ROOT_KEY = "root-ca";
const ISSUING_KEY = "issuing-ca";
const ROOT_YEARS = 20;
const ISSUING_YEARS = 5;

const CRL_REASONS: Record<string, x509.X509CrlReason> = {
  keyCompromise: x509.X509CrlReason.keyCompromise,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  superseded: x509.X509CrlReason.superseded,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
};

/**
 * Vigil's CA hierarchy: a root (ECDSA P-384, twenty years) that signs only the issuing CA, and
 * an issuing CA (P-256, five years, or one the operator brings) that signs device and server
 * certificates. Private keys live sealed in the key vault; certificates in `<pki-dir>`.
 */
export class CertificateAuthority {
  readonly rootPem: string;
  readonly issuingPem: string;
  readonly issuing: NodeX509;
  readonly root: NodeX509;
  readonly #issuingX509: x509.X509Certificate;
  readonly #signingKey: CryptoKey;
  readonly #signAlg: Awaited<ReturnType<typeof importSigningKey>>["sign"];
  readonly #vault: KeyVault;
  readonly #clock: Clock;
  readonly #fast: DeviceCertTemplate;

  private constructor(args: {
    rootPem: string;
    issuingPem: string;
    signingKey: CryptoKey;
    signAlg: Awaited<ReturnType<typeof importSigningKey>>["sign"];
    signingKeyPem: string;
    vault: KeyVault;
    clock: Clock;
  }) {
    this.rootPem = args.rootPem;
    this.issuingPem = args.issuingPem;
    this.root = new NodeX509(args.rootPem);
    this.issuing = new NodeX509(args.issuingPem);
    this.#issuingX509 = new x509.X509Certificate(args.issuingPem);
    this.#signingKey = args.signingKey;
    this.#signAlg = args.signAlg;
    this.#vault = args.vault;
    this.#clock = args.clock;
    this.#fast = deviceCertTemplate(this.#issuingX509, createPrivateKey(args.signingKeyPem));
  }

  /** Opens the CA in `dir`, creating the root and issuing CA on first start. */
  static async open(dir: string, vault: KeyVault, clock: Clock, log: Logger): Promise<CertificateAuthority> {
    const rootFile = join(dir, "root.pem");
    const issuingFile = join(dir, "issuing.pem");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(rootFile) || !existsSync(issuingFile) || !vault.has(ISSUING_KEY)) {
      if (existsSync(issuingFile) && !existsSync(rootFile)) {
        throw new VigilError("PKI_STATE_INVALID", `${issuingFile} exists without ${rootFile}`, {
          hint: "Restore the pki directory from a backup.",
        });
      }
      await createHierarchy(dir, vault, clock);
      log.info({ dir }, "created the root CA (P-384) and issuing CA (P-256)");
    }
    const [rootPem, issuingPem] = await Promise.all([readFile(rootFile, "utf8"), readFile(issuingFile, "utf8")]);
    const issuingKeyPem = await vault.get(ISSUING_KEY);
    const { key, sign } = await importSigningKey(issuingKeyPem);
    return new CertificateAuthority({
      rootPem,
      issuingPem,
      signingKey: key,
      signAlg: sign,
      signingKeyPem: issuingKeyPem,
      vault,
      clock,
    });
  }

  /**
   * Replaces the issuing CA with the operator's own (`vigil ca import`). The certificate must be
   * a CA allowed to sign certificates, currently valid, matching the key, with an accepted key type.
   * Its issuer (the operator's root) becomes the trust anchor clients use.
   */
  static async importIssuing(
    dir: string,
    vault: KeyVault,
    clock: Clock,
    input: { certPem: string; keyPem: string; chainPem?: string },
  ): Promise<{ subject: string; fingerprint: string }> {
    const fail = (why: string, cause?: unknown) =>
      new VigilError("PKI_CA_IMPORT_INVALID", `cannot import this issuing CA: ${why}`, {
        cause,
        hint: "Give a PEM CA certificate (basicConstraints CA:TRUE, keyCertSign) with its PEM private key (EC P-256/P-384 or RSA >= 2048), and the chain up to its root with --chain.",
      });
    let cert: NodeX509;
    try {
      cert = new NodeX509(input.certPem);
    } catch (error) {
      throw fail("the certificate is not PEM X.509", error);
    }
    if (!cert.ca) throw fail("the certificate is not a CA (basicConstraints CA:FALSE)");
    const parsed = new x509.X509Certificate(input.certPem);
    const ku = parsed.getExtension(x509.KeyUsagesExtension);
    if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) throw fail("its key usage does not allow keyCertSign");
    const now = clock.now();
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) <= now)
      throw fail(`it is not valid now (${cert.validFrom} .. ${cert.validTo})`);
    try {
      if (!cert.checkPrivateKey(createPrivateKey(input.keyPem))) throw new Error("mismatch");
      await importSigningKey(input.keyPem);
    } catch (error) {
      throw fail(`the key does not belong to the certificate or is not an accepted type (${(error as Error).message})`, error);
    }
    let anchorPem = input.certPem;
    if (input.chainPem !== undefined) {
      const chain = splitPem(input.chainPem);
      const top = chain.at(-1);
      if (top === undefined) throw fail("the chain file holds no certificate");
      const issuer = chain.map((c) => new NodeX509(c)).find((c) => cert.checkIssued(c) && cert.verify(c.publicKey));
      if (issuer === undefined) throw fail("no certificate in the chain signed it");
      anchorPem = top;
    } else if (!(cert.checkIssued(cert) && cert.verify(cert.publicKey))) {
      throw fail("it is not self-signed, so give the chain up to its root with --chain");
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await vault.put(ISSUING_KEY, createPrivateKey(input.keyPem).export({ format: "pem", type: "pkcs8" }).toString());
    await writeAtomic(join(dir, "issuing.pem"), input.certPem);
    await writeAtomic(join(dir, "root.pem"), anchorPem);
    return { subject: cert.subject, fingerprint: cert.fingerprint256 };
  }

  /** The chain a device stores with its certificate: issuing CA (the root is its trust anchor). */
  get chainPem(): string {
    return this.issuingPem;
  }

  get hasRootKey(): boolean {
    return this.#vault.has(ROOT_KEY);
  }

  /**
   * A device certificate: CN = device id, SAN URI urn:vigil:device:<id>, EKU clientAuth,
   * AKI/SKI, signed by the issuing CA. This is the enrollment hot path, so the DER is built
   * directly from a template computed once (see docs/adr/0002-device-certificate-encoding.md);
   * the EST tests check the result with `openssl x509`/`openssl verify`.
   */
  async issueDevice(csr: ValidCsr, deviceId: DeviceId, validityDays: number): Promise<IssuedCertificate> {
    const now = this.#clock.now();
    const notBefore = Math.floor((now - 5 * 60_000) / 1000) * 1000; // tolerate small clock skew on devices
    const notAfter = Math.floor((now + validityDays * DAY_MS) / 1000) * 1000;
    const serial = randomSerial();
    const spki = csr.spki;
    const der = this.#fast.issue({ serial, deviceId, notBefore, notAfter, spki, rsa: csr.keyType.startsWith("RSA") });
    return { serial, der, pem: toPemCert(der), notBefore, notAfter, subject: `CN=${deviceId}` };
  }

  /** The API's TLS certificate (serverAuth) for these host names and addresses; returns chain + key PEM. */
  async issueServer(
    names: readonly string[],
    ips: readonly string[],
    validityDays = 90,
  ): Promise<{ chainPem: string; keyPem: string; notAfter: number }> {
    const now = this.#clock.now();
    const keys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: "CN=vigil-api, O=Vigil",
      issuer: this.#issuingX509.subjectName,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + validityDays * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: this.#signingKey,
      signingAlgorithm: this.#signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          ...[...new Set(["localhost", hostname(), ...names])].map((value) => ({ type: "dns" as const, value })),
          ...[...new Set(["127.0.0.1", "::1", ...ips])].map((value) => ({ type: "ip" as const, value })),
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(this.#issuingX509),
      ],
    });
    return {
      chainPem: cert.toString("pem") + "\n" + this.issuingPem,
      keyPem: await exportPkcs8Pem(keys.privateKey),
      notAfter: now + validityDays * DAY_MS,
    };
  }

  /** A CRL (DER) signed by the issuing CA, listing every revoked certificate it issued. */
  async crl(entries: readonly RevokedEntry[], nextUpdateHours = 24): Promise<Buffer> {
    const now = this.#clock.now();
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.#issuingX509.subjectName,
      thisUpdate: new Date(now),
      nextUpdate: new Date(now + nextUpdateHours * 3_600_000),
      signingKey: this.#signingKey,
      signingAlgorithm: this.#signAlg,
      entries: entries.map((e) => ({
        serialNumber: e.serial,
        revocationDate: new Date(e.revokedAt),
        ...(e.reason && CRL_REASONS[e.reason] !== undefined ? { reason: CRL_REASONS[e.reason] } : {}),
      })),
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(this.#issuingX509)],
    });
    return Buffer.from(crl.rawData);
  }

  /** The root key, encrypted with a passphrase (PKCS#8, AES-256-CBC), for offline keeping. */
  async exportRootKey(passphrase: string): Promise<string> {
    if (!this.hasRootKey) {
      throw new VigilError(
        "PKI_ROOT_KEY_ABSENT",
        "the root CA key is not in this data directory (it was exported and removed, or the issuing CA was imported)",
        {
          hint: "Use the offline copy you exported earlier.",
        },
      );
    }
    return createPrivateKey(await this.#vault.get(ROOT_KEY))
      .export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase })
      .toString();
  }

  async removeRootKey(): Promise<void> {
    await this.#vault.delete(ROOT_KEY);
  }

  /** Is `cert` (DER) issued by this issuing CA, signature checked? */
  issuedByUs(cert: NodeX509): boolean {
    return cert.checkIssued(this.issuing) && cert.verify(this.issuing.publicKey);
  }
}

async function createHierarchy(dir: string, vault: KeyVault, clock: Clock): Promise<void> {
  const now = clock.now();
  const rootKeys = await webcrypto.subtle.generateKey(EC_P384, true, ["sign", "verify"]);
  const tag = hostname().slice(0, 32);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=Vigil Root CA ${tag}, O=Vigil`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + ROOT_YEARS * 365 * DAY_MS),
    keys: rootKeys,
    signingAlgorithm: ECDSA_SHA384,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const issuingKeys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const issuing = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=Vigil Issuing CA ${tag}, O=Vigil`,
    issuer: root.subjectName,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + ISSUING_YEARS * 365 * DAY_MS),
    publicKey: issuingKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: ECDSA_SHA384,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root),
    ],
  });
  // Keys first, certificates last: a crash in between leaves no certificate without its key.
  await vault.put(ROOT_KEY, await exportPkcs8Pem(rootKeys.privateKey));
  await vault.put(ISSUING_KEY, await exportPkcs8Pem(issuingKeys.privateKey));
  await writeAtomic(join(dir, "root.pem"), root.toString("pem") + "\n");
  await writeAtomic(join(dir, "issuing.pem"), issuing.toString("pem") + "\n");
}

export function splitPem(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, file);
}

export function certFingerprint(pem: string): string {
  return sha256Hex(new x509.X509Certificate(pem).rawData);
}

/**
 * PKCS#7 / CMS SignedData "certs-only" (RFC 7030 §4.1.3, §4.2.3; RFC 5652 §5.1), DER: a
 * degenerate SignedData with no content and no signers, carrying the given certificates.
 * Encoded directly: a fixed envelope around certificates that are already DER.
 */
export function certsOnly(pems: readonly (string | Buffer)[]): Buffer {
  const ders = pems.map((p) => (typeof p === "string" ? Buffer.from(p.replace(/-----[^-]+-----|\s+/g, ""), "base64") : p));
  const signedData = tlv(
    0x30,
    Buffer.from("020101" + "3100" + "300b06092a864886f70d010701", "hex"), // version 1, digestAlgorithms {}, encapContentInfo {id-data}
    tlv(0xa0, ...ders), // certificates [0] IMPLICIT SET OF Certificate
    Buffer.from("3100", "hex"), // signerInfos {}
  );
  return tlv(0x30, Buffer.from("06092a864886f70d010702", "hex"), tlv(0xa0, signedData)); // ContentInfo { id-signedData, [0] EXPLICIT }
}

interface DeviceCertTemplate {
  issue(input: { serial: string; deviceId: string; notBefore: number; notAfter: number; spki: Buffer; rsa: boolean }): Buffer;
}

const OID = {
  cn: "0603550403",
  basicConstraints: "0603551d13",
  keyUsage: "0603551d0f",
  extKeyUsage: "0603551d25",
  subjectAltName: "0603551d11",
  subjectKeyId: "0603551d0e",
  authorityKeyId: "0603551d23",
  clientAuth: "06082b06010505070302",
};
const hex = (h: string) => Buffer.from(h, "hex");
const CRITICAL = hex("0101ff");

/** Everything of a device certificate that does not change between devices, encoded once. */
function deviceCertTemplate(issuing: x509.X509Certificate, key: KeyObject): DeviceCertTemplate {
  const ec = key.asymmetricKeyType === "ec";
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const hash = ec && curve === "secp384r1" ? "sha384" : "sha256";
  // AlgorithmIdentifier: ecdsa-with-SHA256/384 (RFC 5758 §3.2, no parameters) or sha256WithRSAEncryption (NULL parameters).
  const sigAlg = ec
    ? seq(hex(hash === "sha384" ? "06082a8648ce3d040303" : "06082a8648ce3d040302"))
    : seq(hex("06092a864886f70d01010b"), hex("0500"));
  const issuerName = Buffer.from(issuing.subjectName.toArrayBuffer());
  const ski = issuing.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const issuerKeyId = ski
    ? hex(ski)
    : createHash("sha1")
        .update(spkiKeyBits(Buffer.from(issuing.publicKey.rawData)))
        .digest();
  const fixed = Buffer.concat([
    seq(hex(OID.basicConstraints), CRITICAL, octetString(seq())),
    seq(hex(OID.extKeyUsage), octetString(seq(hex(OID.clientAuth)))),
    seq(hex(OID.authorityKeyId), octetString(seq(tlv(0x80, issuerKeyId)))),
  ]);
  const keyUsageEc = seq(hex(OID.keyUsage), CRITICAL, octetString(bitString(hex("80"), 7))); // digitalSignature
  const keyUsageRsa = seq(hex(OID.keyUsage), CRITICAL, octetString(bitString(hex("a0"), 5))); // + keyEncipherment
  const version = hex("a003020102"); // [0] EXPLICIT INTEGER 2 (v3)
  return {
    issue({ serial, deviceId, notBefore, notAfter, spki, rsa }) {
      const subject = seq(tlv(0x31, seq(hex(OID.cn), tlv(0x0c, Buffer.from(deviceId, "utf8")))));
      const san = seq(hex(OID.subjectAltName), octetString(seq(tlv(0x86, Buffer.from(`urn:vigil:device:${deviceId}`, "ascii")))));
      const subjectKeyId = seq(
        hex(OID.subjectKeyId),
        octetString(octetString(createHash("sha1").update(spkiKeyBits(spki)).digest())),
      );
      const extensions = tlv(0xa3, seq(fixed, rsa ? keyUsageRsa : keyUsageEc, san, subjectKeyId));
      const tbs = seq(
        version,
        integer(hex(serial)),
        sigAlg,
        issuerName,
        seq(time(new Date(notBefore)), time(new Date(notAfter))),
        subject,
        spki,
        extensions,
      );
      const signature = signBytes(hash, tbs, key); // ECDSA: DER Ecdsa-Sig-Value, as X.509 wants
      return seq(tbs, sigAlg, bitString(signature));
    },
  };
}

/** The subjectPublicKey BIT STRING's bits (without the unused-bits byte) from SPKI DER: what RFC 5280 §4.2.1.2 (1) hashes. */
function spkiKeyBits(spki: Buffer): Buffer {
  const outer = readTlv(spki, 0);
  const bits = children(spki, outer)[1];
  if (bits === undefined || bits.tag !== 0x03) throw new RangeError("SubjectPublicKeyInfo without a BIT STRING");
  return spki.subarray(bits.contentStart + 1, bits.end);
}

function toPemCert(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}
