import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { VigilError, parseDeviceId, type DeviceId } from "../../core/index.js";
import { children, readTlv, type Tlv } from "./der.js";

export type KeyType = "EC-P256" | "EC-P384" | `RSA-${number}`;

/** A certification request that has been decoded, signature-checked and found acceptable. */
export interface ValidCsr {
  readonly deviceId: DeviceId;
  readonly subject: string;
  readonly keyType: KeyType;
  /** The SubjectPublicKeyInfo, DER, exactly as the device sent it. */
  readonly spki: Buffer;
  /** SHA-256 of the SubjectPublicKeyInfo DER, hex: the key's fingerprint (pre-registration uses it). */
  readonly keySha256: string;
}

const BASE64 = /^[A-Za-z0-9+/\r\n\t ]*={0,2}[\r\n\t ]*$/;
const MAX_CSR_BYTES = 16 * 1024;

/** Signature algorithms accepted on a CSR (RFC 5758 §3.2, RFC 4055 §5), by DER of the OID's value. */
const SIGNATURE_ALGORITHMS: Record<string, { key: "ec" | "rsa"; hash: string }> = {
  "2a8648ce3d040302": { key: "ec", hash: "sha256" },
  "2a8648ce3d040303": { key: "ec", hash: "sha384" },
  "2a8648ce3d040304": { key: "ec", hash: "sha512" },
  "2a864886f70d01010b": { key: "rsa", hash: "sha256" },
  "2a864886f70d01010c": { key: "rsa", hash: "sha384" },
  "2a864886f70d01010d": { key: "rsa", hash: "sha512" },
};
const WEAK_SIGNATURE_ALGORITHMS = new Set(["2a864886f70d010105", "2a864886f70d010104", "2a8648ce3d0401"]); // sha1/md5 RSA, ecdsa-with-SHA1
const CN_OID = "550403";

function invalid(why: string, cause?: unknown): VigilError {
  return new VigilError("ENROLLMENT_CSR_INVALID", `the request is not a valid DER PKCS#10 certification request: ${why}`, {
    cause,
    hint: "Build it with a standard tool (e.g. `openssl req -new -outform DER`).",
  });
}

/**
 * Decodes an EST request body (RFC 7030 §4.2.1: base64 DER PKCS#10; a PEM block is tolerated)
 * and checks it: the DER is well formed (RFC 2986 §4), the self-signature verifies, the key is
 * EC P-256/P-384 or RSA >= 2048, and the subject holds exactly one CN that is a valid device id.
 * Every failure is a specific error; nothing here trusts a length it has not checked.
 */
export async function parseCsr(body: string | Buffer): Promise<ValidCsr> {
  const text = (typeof body === "string" ? body : body.toString("latin1")).replace(
    /-----(BEGIN|END) (NEW )?CERTIFICATE REQUEST-----/g,
    "",
  );
  if (text.trim().length === 0 || !BASE64.test(text)) {
    throw new VigilError("ENROLLMENT_CSR_ENCODING", "the request body is not base64", {
      hint: "Send the DER PKCS#10 request base64-encoded with Content-Type: application/pkcs10 (RFC 7030 §4.2.1).",
    });
  }
  const der = Buffer.from(text.replace(/\s+/g, ""), "base64");
  if (der.length === 0 || der.length > MAX_CSR_BYTES) {
    throw new VigilError("ENROLLMENT_CSR_ENCODING", `the decoded request is ${der.length} bytes; expected 1..${MAX_CSR_BYTES}`, {
      hint: "Send one PKCS#10 certification request.",
    });
  }
  let parts: { info: Tlv; subject: Tlv; spki: Tlv; algorithm: string; signature: Buffer };
  try {
    parts = structure(der);
  } catch (error) {
    if (error instanceof VigilError) throw error;
    throw invalid((error as Error).message, error);
  }
  const spki = der.subarray(parts.spki.start, parts.spki.end);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch (error) {
    throw new VigilError("ENROLLMENT_KEY_WEAK", `the request's public key cannot be read: ${(error as Error).message}`, {
      cause: error,
      hint: "Use EC P-256/P-384 or RSA >= 2048 bits.",
    });
  }
  const keyType = keyTypeOf(key);
  if (WEAK_SIGNATURE_ALGORITHMS.has(parts.algorithm)) {
    throw new VigilError("ENROLLMENT_KEY_WEAK", "the request is signed with SHA-1 or MD5", {
      hint: "Sign the request with SHA-256 or stronger.",
    });
  }
  const algorithm = SIGNATURE_ALGORITHMS[parts.algorithm];
  if (algorithm === undefined) throw invalid(`signature algorithm (OID bytes ${parts.algorithm}) is not supported`);
  if (algorithm.key !== key.asymmetricKeyType)
    throw invalid(`a ${key.asymmetricKeyType ?? "?"} key cannot make a ${algorithm.key.toUpperCase()} signature`);
  let verified: boolean;
  try {
    verified = verify(algorithm.hash, der.subarray(parts.info.start, parts.info.end), key, parts.signature);
  } catch (error) {
    throw new VigilError("ENROLLMENT_CSR_SIGNATURE", `the request's signature cannot be checked: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!verified) {
    throw new VigilError("ENROLLMENT_CSR_SIGNATURE", "the request's signature does not verify with its own public key", {
      hint: "The request was altered or signed with another key; build it again on the device.",
    });
  }
  const cns = commonNames(der, parts.subject);
  if (cns.length !== 1 || cns[0] === undefined) {
    throw new VigilError(
      "ENROLLMENT_SUBJECT_INVALID",
      `the subject must hold exactly one CN (the device id); it holds ${cns.length}`,
      {
        hint: "Use -subj /CN=<device-id>.",
      },
    );
  }
  const deviceId = parseDeviceId(cns[0]);
  if (deviceId === undefined) {
    throw new VigilError(
      "ENROLLMENT_SUBJECT_INVALID",
      `the CN ${JSON.stringify(cns[0].slice(0, 140))} is not a valid device id`,
      {
        hint: "Use 1-128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit.",
      },
    );
  }
  return { deviceId, subject: `CN=${deviceId}`, keyType, spki, keySha256: createHash("sha256").update(spki).digest("hex") };
}

/** RFC 2986 §4: CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }. */
function structure(der: Buffer) {
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new RangeError("it is not one DER SEQUENCE");
  const [info, alg, sig, extra] = children(der, outer);
  if (info?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03 || extra !== undefined)
    throw new RangeError("it does not have the three parts of a CertificationRequest");
  const [version, subject, spki, attributes, more] = children(der, info);
  if (version?.tag !== 0x02 || version.end - version.contentStart !== 1 || der[version.contentStart] !== 0)
    throw new RangeError("its version is not v1 (0)");
  if (subject?.tag !== 0x30 || spki?.tag !== 0x30) throw new RangeError("its subject or public key is missing");
  if ((attributes !== undefined && attributes.tag !== 0xa0) || more !== undefined)
    throw new RangeError("it has unexpected fields after the attributes");
  const [oid] = children(der, alg);
  if (oid?.tag !== 0x06) throw new RangeError("its signature algorithm has no OID");
  if (sig.end - sig.contentStart < 2 || der[sig.contentStart] !== 0)
    throw new RangeError("its signature BIT STRING is malformed");
  return {
    info,
    subject,
    spki,
    algorithm: der.subarray(oid.contentStart, oid.end).toString("hex"),
    signature: der.subarray(sig.contentStart + 1, sig.end),
  };
}

/** Every CN value in a Name (SEQUENCE OF SET OF AttributeTypeAndValue), decoded. */
function commonNames(der: Buffer, name: Tlv): string[] {
  const out: string[] = [];
  try {
    for (const rdn of children(der, name)) {
      if (rdn.tag !== 0x31) throw new RangeError("malformed RDN");
      for (const atv of children(der, rdn)) {
        const [type, value] = children(der, atv);
        if (atv.tag !== 0x30 || type?.tag !== 0x06 || value === undefined) throw new RangeError("malformed attribute");
        if (der.subarray(type.contentStart, type.end).toString("hex") !== CN_OID) continue;
        // UTF8String, PrintableString, IA5String; anything else cannot be a device id.
        if (value.tag !== 0x0c && value.tag !== 0x13 && value.tag !== 0x16) {
          out.push("\u0000unsupported string type");
          continue;
        }
        out.push(der.subarray(value.contentStart, value.end).toString("utf8"));
      }
    }
  } catch (error) {
    throw new VigilError("ENROLLMENT_SUBJECT_INVALID", `the subject is malformed: ${(error as Error).message}`, {
      cause: error,
      hint: "Use -subj /CN=<device-id>.",
    });
  }
  return out;
}

function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "ec") {
    if (details?.namedCurve === "prime256v1") return "EC-P256";
    if (details?.namedCurve === "secp384r1") return "EC-P384";
    throw new VigilError("ENROLLMENT_KEY_WEAK", `EC curve ${details?.namedCurve ?? "unknown"} is not accepted`, {
      hint: "Use P-256 or P-384.",
    });
  }
  if (key.asymmetricKeyType === "rsa") {
    const bits = details?.modulusLength ?? 0;
    if (bits >= 2048) return `RSA-${bits}`;
    throw new VigilError("ENROLLMENT_KEY_WEAK", `an RSA key of ${bits} bits is too weak`, {
      hint: "Use RSA >= 2048 bits, or EC P-256/P-384.",
    });
  }
  throw new VigilError("ENROLLMENT_KEY_WEAK", `key type ${key.asymmetricKeyType ?? "unknown"} is not accepted`, {
    hint: "Use EC P-256/P-384 or RSA >= 2048 bits.",
  });
}
