import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isVigilError } from "../../core/index.js";
import { parseCsr } from "./csr.js";
import { x509 } from "./x509-util.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-csr-"));

function opensslCsr(name: string, subject: string, keyArgs: string[], digest = "-sha256"): Buffer {
  const out = join(dir, `${name}.der`);
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      ...keyArgs,
      "-nodes",
      "-keyout",
      join(dir, `${name}.key`),
      "-subj",
      subject,
      digest,
      "-outform",
      "DER",
      "-out",
      out,
    ],
    { stdio: "ignore" },
  );
  return readFileSync(out);
}

const ecP256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

test("accepts what openssl makes (EC P-256, P-384, RSA 2048) and agrees with @peculiar/x509 on key and name", async () => {
  for (const [name, args, type] of [
    ["p256", ecP256, "EC-P256"],
    ["p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], "EC-P384"],
    ["rsa", ["-newkey", "rsa:2048"], "RSA-2048"],
  ] as const) {
    const der = opensslCsr(name, `/O=Acme/CN=dev-${name}/OU=field`, [...args]);
    const csr = await parseCsr(der.toString("base64"));
    const reference = new x509.Pkcs10CertificateRequest(der);
    assert.equal(await reference.verify(), true);
    assert.equal(csr.deviceId, `dev-${name}`);
    assert.equal(csr.keyType, type);
    assert.deepEqual(csr.spki, Buffer.from(reference.publicKey.rawData));
    assert.equal(
      csr.keySha256,
      createHash("sha256")
        .update(createPublicKey(readFileSync(join(dir, `${name}.key`))).export({ format: "der", type: "spki" }))
        .digest("hex"),
    );
  }
});

test("accepts a PEM-wrapped request and line-wrapped base64", async () => {
  const der = opensslCsr("pem", "/CN=pem-1", ecP256);
  const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.equal((await parseCsr(pem)).deviceId, "pem-1");
});

test("refuses two CNs, no CN, SHA-1 signatures and trailing bytes, each with its code", async () => {
  const two = opensslCsr("two", "/CN=a/CN=b", ecP256);
  await assert.rejects(
    parseCsr(two.toString("base64")),
    (e: unknown) => isVigilError(e, "ENROLLMENT_SUBJECT_INVALID") && /holds 2/.test(e.message),
  );
  const none = opensslCsr("none", "/O=NoName", ecP256);
  await assert.rejects(parseCsr(none.toString("base64")), (e: unknown) => isVigilError(e, "ENROLLMENT_SUBJECT_INVALID"));
  const sha1 = opensslCsr("sha1", "/CN=old", ["-newkey", "rsa:2048"], "-sha1");
  await assert.rejects(
    parseCsr(sha1.toString("base64")),
    (e: unknown) => isVigilError(e, "ENROLLMENT_KEY_WEAK") && /SHA-1/.test(e.message),
  );
  const trailing = Buffer.concat([opensslCsr("ok", "/CN=ok", ecP256), Buffer.from([0, 0])]);
  await assert.rejects(parseCsr(trailing.toString("base64")), (e: unknown) => isVigilError(e, "ENROLLMENT_CSR_INVALID"));
});

test("fuzz: 3,000 mutated requests never crash the parser and never pass as valid with a changed signature", async () => {
  const seed = opensslCsr("fuzz", "/CN=fuzz-1", ecP256);
  let state = 0x2545f491;
  const rand = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const codes = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const bytes = Buffer.from(seed);
    const mode = rand(4);
    let mutated: Buffer;
    if (mode === 0) {
      for (let k = 0; k < 1 + rand(4); k++) bytes[rand(bytes.length)] = rand(256);
      mutated = bytes;
    } else if (mode === 1) mutated = bytes.subarray(0, rand(bytes.length));
    else if (mode === 2)
      mutated = Buffer.concat([
        bytes.subarray(0, rand(bytes.length)),
        Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
        bytes.subarray(rand(bytes.length)),
      ]);
    else {
      const at = rand(bytes.length);
      bytes[at] = 0x82; // a long-form length where there was none
      mutated = bytes;
    }
    try {
      const csr = await parseCsr(mutated.toString("base64"));
      // A mutation that still verifies can only have touched bytes outside the signed part and the signature.
      assert.equal(csr.deviceId, "fuzz-1");
      codes.set("accepted", (codes.get("accepted") ?? 0) + 1);
    } catch (error) {
      assert.ok(isVigilError(error), `mutation ${i} (mode ${mode}) threw a non-Vigil error: ${String(error)}`);
      assert.match(error.code, /^ENROLLMENT_/);
      codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
    }
  }
  assert.ok((codes.get("ENROLLMENT_CSR_INVALID") ?? 0) > 100, JSON.stringify([...codes]));
  assert.ok((codes.get("ENROLLMENT_CSR_SIGNATURE") ?? 0) > 10, JSON.stringify([...codes]));
});
