import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { DeviceCredentials } from "../../../device-sdk/src/index.js";
import { ApiError, callApi } from "../../src/cli/client.js";
import { freePort, runCli, tempDir } from "../support.js";
import { ADMIN_PASSWORD, claimTokens, enrollWithToken, launchDaemon, type Daemon } from "./daemon-fixture.js";
import { Rng, envCount, runSeed } from "./fuzz-support.js";

// Crash consistency under load (DESIGN "Bad input and faults": a crash or kill at any moment
// loses no acknowledged message, no audit entry, no issued certificate). Each iteration
// starts `vigil up` on the same data dir and ports, loads it with devices enrolling over EST,
// devices publishing QoS 1 and an operator registering devices, kills it with SIGKILL at a
// random moment, and then checks, on the dead store and after the restart:
// - every certificate a device received is in the store;
// - every operator write the API acknowledged (201) is there, and so is its audit entry;
// - no half-enrolled device (enrolled without a certificate, a used token without its device);
// - `vigil audit verify` passes (the hash chain and the signed checkpoints);
// - every device that holds a certificate connects again;
// and at the end no secret handed out or typed (admin password and token, claim tokens,
// device private keys) is found in plaintext in the data dir or the logs.
// CI runs VIGIL_CRASH_ITERATIONS=5 (default); `npm run test:long` runs hundreds.

const iterations = envCount("VIGIL_CRASH_ITERATIONS", 5);
const seed = runSeed();
const work = tempDir("vigil-crash-loop-");
after(() => work.remove());

const PROFILE = "plc"; // QoS 1, 20 msg/s: room for a steady publisher

interface Ledger {
  /** Enrollments the server answered (the device holds this certificate). */
  readonly enrolled: Map<string, DeviceCredentials>;
  /** Device ids whose registration the API acknowledged with 201. */
  readonly registered: Set<string>;
  pubacks: number;
  reconnects: number;
  /** Secrets handed out or typed during the run: none may be found in plaintext on disk or in the logs. */
  readonly secrets: Map<string, string>;
  logs: string;
  killedAtMs: number[];
}

/**
 * MQTT.js's connectAsync never settles when the server dies between the TLS handshake and the
 * CONNACK (a close without an error, no reconnect): this one rejects on close and after `ms`.
 */
function connectWithin(url: string, options: IClientOptions, ms: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { ...options, reconnectPeriod: 0 });
    const fail = (why: Error) => {
      clearTimeout(timer);
      client.end(true);
      reject(why);
    };
    const timer = setTimeout(() => fail(new Error(`no CONNACK within ${ms} ms`)), ms);
    client.once("connect", () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.once("error", (error) => fail(error));
    client.once("close", () => fail(new Error("connection closed before CONNACK")));
  });
}

class LoadFailure extends Error {}

/** Runs the load until `killed()`; errors before the kill are real failures, after it expected. */
async function load(daemon: Daemon, round: number, ledger: Ledger, rng: Rng, killed: () => boolean, devicesDir: string) {
  const failures: unknown[] = [];
  const guard = async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      if (!killed()) failures.push(error);
    }
  };
  const tokens = await claimTokens(daemon.admin, PROFILE, 40);
  for (const token of tokens) ledger.secrets.set(token, `claim token of round ${round}`);
  let n = 0;
  const enrollers = Array.from({ length: 3 }, () =>
    guard(async () => {
      while (!killed() && tokens.length > 0) {
        const id = `crash-${round}-e${n++}`;
        const token = tokens.pop() as string;
        const creds = await enrollWithToken(daemon, devicesDir, id, token);
        ledger.enrolled.set(id, creds);
      }
    }),
  );
  const operators = Array.from({ length: 3 }, (_, w) =>
    guard(async () => {
      let k = 0;
      while (!killed()) {
        const id = `crash-${round}-op${w}-${k++}`;
        const res = await callApi(daemon.admin, "POST", "/api/v1/devices", { id, profile: PROFILE });
        if (res.status === 201) ledger.registered.add(id);
      }
    }),
  );
  // Publishers: a few enrolled devices send QoS 1 telemetry; each PUBACK is an acknowledgement.
  const publisherIds = [...ledger.enrolled.keys()].slice(-6);
  const publishers = publisherIds.map((id) =>
    guard(async () => {
      const creds = ledger.enrolled.get(id) as DeviceCredentials;
      const client = await connectWithin(
        daemon.mqttUrl,
        { key: creds.keyPem, cert: creds.certPem, ca: creds.caPem, clientId: id, protocolVersion: 4 },
        10_000,
      );
      const untilClosed = new Promise<void>((resolve) => client.once("close", () => resolve()));
      try {
        let seq = 0;
        while (!killed()) {
          const acked = await Promise.race([
            client.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ seq: seq++, t: 21.5 }), { qos: 1 }).then(() => true),
            untilClosed.then(() => false),
          ]);
          if (!acked) break;
          ledger.pubacks++;
          await new Promise((r) => setTimeout(r, 150 + rng.int(100)));
        }
      } finally {
        client.end(true);
      }
    }),
  );
  await Promise.all([...enrollers, ...operators, ...publishers]);
  if (failures.length > 0) throw new LoadFailure(`round ${round}: the server failed before the kill: ${String(failures[0])}`);
}

/** What the dead daemon left on disk: every acknowledged thing is there, nothing half-done. */
function checkStore(dataDir: string, ledger: Ledger, round: number): { devices: number; certificates: number; audit: number } {
  const db = new Database(join(dataDir, "vigil.db"), { readonly: true, fileMustExist: true });
  try {
    const serials = new Set(
      (db.prepare("SELECT serial FROM certificates").all() as { serial: string }[]).map((r) => normalSerial(r.serial)),
    );
    const missingCerts = [...ledger.enrolled.values()].filter((c) => !serials.has(normalSerial(c.serial))).map((c) => c.deviceId);
    assert.deepEqual(missingCerts, [], `round ${round}: certificates the devices received are missing from the store`);

    const devices = new Set((db.prepare("SELECT id FROM devices").all() as { id: string }[]).map((r) => r.id));
    const lostDevices = [...ledger.registered].filter((id) => !devices.has(id));
    assert.deepEqual(lostDevices, [], `round ${round}: acknowledged registrations lost`);

    const audited = new Set(
      (
        db.prepare("SELECT target FROM audit_entries WHERE action IN ('device.registered', 'enrollment.completed')").all() as {
          target: string;
        }[]
      ).map((r) => r.target),
    );
    const unaudited = [...ledger.registered, ...ledger.enrolled.keys()].filter((id) => !audited.has(id));
    assert.deepEqual(unaudited, [], `round ${round}: acknowledged actions whose audit entry was lost`);

    const enrolledWithoutCert = db
      .prepare(
        "SELECT id FROM devices d WHERE d.enrolled_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.device_id = d.id)",
      )
      .all();
    assert.deepEqual(enrolledWithoutCert, [], `round ${round}: devices marked enrolled without a certificate`);
    const certWithoutEnrollment = db
      .prepare(
        "SELECT c.serial FROM certificates c JOIN devices d ON d.id = c.device_id WHERE d.enrolled_at IS NULL OR d.state = 'pending'",
      )
      .all();
    assert.deepEqual(certWithoutEnrollment, [], `round ${round}: certificates of devices that are not enrolled`);
    const usedTokenWithoutDevice = db
      .prepare(
        "SELECT t.id FROM enrollment_tokens t WHERE t.used_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = t.used_by_device AND d.enrolled_at IS NOT NULL)",
      )
      .all();
    assert.deepEqual(usedTokenWithoutDevice, [], `round ${round}: claim tokens used by no enrolled device`);
    return {
      devices: devices.size,
      certificates: serials.size,
      audit: (db.prepare("SELECT COUNT(*) AS n FROM audit_entries").get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

/** Every file under `dir` (bytes) and the logs, searched for each secret's exact text. */
function scanForSecrets(dir: string, logs: string, secrets: Map<string, string>): string[] {
  const found: string[] = [];
  const files = (readdirSync(dir, { recursive: true }) as string[]).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
  const haystacks: [string, Buffer][] = [
    ["the logs", Buffer.from(logs)],
    ...files.map((f) => [f, readFileSync(f)] as [string, Buffer]),
  ];
  for (const [secret, what] of secrets) {
    if (secret.length < 8) continue;
    for (const [where, bytes] of haystacks) if (bytes.includes(secret)) found.push(`${what} in ${where}`);
  }
  return found;
}

function normalSerial(serial: string): string {
  return serial
    .toLowerCase()
    .replace(/[^0-9a-f]/g, "")
    .replace(/^0+/, "");
}

/** Every device holding a certificate connects again (CONNACK 0); a sample of older ones when there are many. */
async function reconnect(daemon: Daemon, ledger: Ledger, rng: Rng, lastRound: string): Promise<number> {
  const all = [...ledger.enrolled.values()];
  const recent = all.filter((c) => c.deviceId.startsWith(lastRound));
  const older = all.filter((c) => !c.deviceId.startsWith(lastRound));
  const sample = older.length <= 60 ? older : Array.from({ length: 60 }, () => rng.pick(older));
  const targets = [...new Map([...recent, ...sample].map((c) => [c.deviceId, c])).values()];
  const refused: string[] = [];
  for (let i = 0; i < targets.length; i += 16) {
    await Promise.all(
      targets.slice(i, i + 16).map(async (creds) => {
        try {
          const client = await connectWithin(
            daemon.mqttUrl,
            { key: creds.keyPem, cert: creds.certPem, ca: creds.caPem, clientId: creds.deviceId, protocolVersion: 4 },
            15_000,
          );
          client.removeAllListeners("close");
          await client.endAsync();
        } catch (error) {
          refused.push(`${creds.deviceId}: ${(error as Error).message}`);
        }
      }),
    );
  }
  assert.deepEqual(refused, [], "every device holding a certificate reconnects after the restart");
  return targets.length;
}

test(`crash loop: ${iterations} kill -9 under load (enroll, publish QoS 1, operator writes) lose nothing acknowledged (seed ${seed})`, async () => {
  const dataDir = join(work.path, "data");
  const devicesDir = join(work.path, "devices");
  const apiPort = await freePort();
  const mqttPort = await freePort();
  const flags = ["--mqtt-max-connections-per-source", "100000"];
  const ledger: Ledger = {
    enrolled: new Map(),
    registered: new Set(),
    pubacks: 0,
    reconnects: 0,
    killedAtMs: [],
    secrets: new Map([[ADMIN_PASSWORD, "the admin's password"]]),
    logs: "",
  };
  let token: string | undefined;
  let last = { devices: 0, certificates: 0, audit: 0 };
  for (let round = 0; round <= iterations; round++) {
    const rng = Rng.forCase(seed, round, "crash");
    const daemon = await launchDaemon({ dataDir, apiPort, mqttPort, flags, ...(token ? { token } : {}) });
    token = daemon.admin.token;
    if (token !== undefined) ledger.secrets.set(token, "the admin's bearer token");
    try {
      if (round > 0) ledger.reconnects += await reconnect(daemon, ledger, rng, `crash-${round - 1}-`);
      if (round === iterations) {
        // The last start: the API still sees everything, then a clean stop.
        const status = await callApi<{ counts: { devices: number } }>(daemon.admin, "GET", "/api/v1/status");
        assert.ok(status.data.counts.devices >= ledger.registered.size + ledger.enrolled.size);
        assert.equal(await daemon.stop(), 0, "clean stop after the crash loop");
        break;
      }
      let killed = false;
      const running = load(daemon, round, ledger, rng, () => killed, devicesDir);
      const killAfter = 300 + rng.int(1700);
      ledger.killedAtMs.push(killAfter);
      await Promise.race([new Promise((r) => setTimeout(r, killAfter)), running]);
      killed = true;
      await daemon.kill9();
      await running;
    } catch (error) {
      if (error instanceof ApiError || error instanceof LoadFailure) {
        throw new Error(`${error.message}\n--- daemon stderr ---\n${daemon.stderr().slice(-4000)}`);
      }
      throw error;
    } finally {
      await daemon.kill9();
      ledger.logs += daemon.stdout() + daemon.stderr();
    }
    last = checkStore(dataDir, ledger, round);
    const verify = await runCli(["audit", "verify", "--data-dir", dataDir]);
    assert.equal(verify.code, 0, `round ${round}: vigil audit verify after kill -9:\n${verify.stdout}${verify.stderr}`);
  }
  // No secret in plaintext on disk (the data dir, after all those kills) or in the logs.
  const leaks = scanForSecrets(dataDir, ledger.logs, ledger.secrets);
  assert.deepEqual(leaks, [], "secrets found in plaintext");
  for (const creds of ledger.enrolled.values()) ledger.secrets.set(creds.keyPem.split("\n")[1] ?? "", "a device private key");
  assert.deepEqual(scanForSecrets(dataDir, ledger.logs, ledger.secrets), [], "a device's private key reached Vigil");
  const figures = {
    seed,
    secretsScanned: ledger.secrets.size,
    iterations,
    enrolled: ledger.enrolled.size,
    registered: ledger.registered.size,
    pubacks: ledger.pubacks,
    reconnects: ledger.reconnects,
    store: last,
    killedAtMs: ledger.killedAtMs,
  };
  process.stdout.write(`crash-loop figures: ${JSON.stringify(figures)}\n`);
  writeFileSync(join(work.path, "figures.json"), JSON.stringify(figures));
  if (process.env.VIGIL_RELIABILITY_OUT) {
    writeFileSync(join(process.env.VIGIL_RELIABILITY_OUT, "crash-loop.json"), JSON.stringify(figures, null, 2));
  }
  assert.ok(ledger.enrolled.size > 0 && ledger.registered.size > 0, "the load did enroll and register devices");
});
