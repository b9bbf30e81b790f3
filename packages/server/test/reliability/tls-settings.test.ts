import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { DeviceCredentials } from "../../../device-sdk/src/index.js";
import { enrollDevice } from "../gateway-support.js";
import { startPlatform, tempDir, type TestPlatform } from "../support.js";

// The TLS settings of both listeners, checked from outside with `openssl s_client` the way an
// auditor would: TLS 1.0 and 1.1 refused; TLS 1.2 only with forward-secret AEAD suites (no
// RC4, 3DES, CBC, NULL, EXPORT, anonymous); TLS 1.3 works. Every TLS 1.2 suite this OpenSSL
// knows is offered one at a time and the accepted ones listed.

const run = promisify(execFile);
const dir = tempDir("vigil-tls-");
let t: TestPlatform;
let device: DeviceCredentials;
let deviceFiles: string[];

before(async () => {
  t = await startPlatform();
  device = await enrollDevice(t.platform, dir.path, "tls-probe", "plc");
  writeFileSync(join(dir.path, "probe.pem"), device.certPem);
  writeFileSync(join(dir.path, "probe.key"), device.keyPem, { mode: 0o600 });
  deviceFiles = ["-cert", join(dir.path, "probe.pem"), "-key", join(dir.path, "probe.key")];
});
after(async () => {
  await t.stop();
  dir.remove();
});

interface Probe {
  readonly ok: boolean;
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
}

/** One handshake with `openssl s_client` (stdin closed: it hangs up right after the handshake). */
function probe(port: number, args: string[], client: string[] = []): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "openssl",
      ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", ...client, ...args],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      const cipher = /Cipher is (\S+)/.exec(out)?.[1];
      const protocol = /Protocol\s*:\s*(\S+)/.exec(out)?.[1] ?? /New, (TLSv[\d.]+),/.exec(out)?.[1];
      resolve({ ok: cipher !== undefined && cipher !== "(NONE)" && cipher !== "0000", protocol, cipher });
    });
    child.stdin.end();
  });
}

async function tls12Suites(): Promise<string[]> {
  const { stdout } = await run("openssl", ["ciphers", "-s", "-tls1_2", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]);
  return stdout
    .trim()
    .split(":")
    .filter((c) => c.length > 0 && !c.startsWith("TLS_")); // TLS 1.3 suites are probed separately
}

/** AEAD with forward secrecy: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 (identity/pki/tls-policy.ts). */
const STRONG = /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/;

for (const listener of ["API (HTTPS)", "MQTT gateway (mutual TLS)"] as const) {
  test(`TLS settings of the ${listener}: no TLS 1.0/1.1, TLS 1.2 with strong AEAD suites only, TLS 1.3 works`, async () => {
    const port = listener.startsWith("API") ? Number(new URL(t.platform.url).port) : t.platform.gateway.port;
    const client = listener.startsWith("MQTT") ? deviceFiles : [];
    const legacy = "DEFAULT@SECLEVEL=0"; // so that it is the server that refuses, not our OpenSSL
    for (const version of ["-tls1", "-tls1_1"]) {
      const p = await probe(port, [version, "-cipher", legacy], client);
      assert.equal(p.ok, false, `${listener} accepted ${version} (${p.protocol} ${p.cipher})`);
    }
    const tls13 = await probe(port, ["-tls1_3"], client);
    assert.equal(tls13.ok, true, `${listener}: TLS 1.3 handshake failed`);
    assert.match(tls13.cipher ?? "", /^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);

    const accepted: string[] = [];
    for (const suite of await tls12Suites()) {
      const p = await probe(port, ["-tls1_2", "-cipher", `${suite}@SECLEVEL=0`], client);
      if (p.ok) accepted.push(p.cipher as string);
    }
    assert.ok(accepted.length > 0, `${listener}: no TLS 1.2 suite accepted`);
    const weak = accepted.filter((c) => !STRONG.test(c));
    assert.deepEqual(weak, [], `${listener} accepts weak TLS 1.2 suites (accepted: ${accepted.join(", ")})`);
    process.stdout.write(`tls ${listener}: TLS 1.2 suites accepted: ${accepted.join(", ")}; TLS 1.3: ${tls13.cipher}\n`);
  });
}
