import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { after, before, test } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import type { DeviceCredentials } from "../../../device-sdk/src/index.js";
import { repoRoot, tempDir } from "../support.js";
import { claimTokens, enrollWithToken, launchDaemon, type Daemon } from "./daemon-fixture.js";
import {
  FuzzMemoryCurve,
  Rng,
  caseIndices,
  envCount,
  fuzzFailure,
  mutateBytes,
  runSeed,
  writeFuzzFigures,
} from "./fuzz-support.js";

// Mutation fuzzing of the MQTT gateway over raw mutual-TLS sockets, against `vigil up` in its
// own process. Corpus: the mqtt-packet package's parse/generate test vectors plus valid
// CONNECT/PUBLISH/SUBSCRIBE/UNSUBSCRIBE/PINGREQ packets of our own devices. Each case opens a
// connection with an enrolled device's certificate and sends the mutated bytes either first
// (instead of CONNECT) or after a valid CONNECT, then a PINGREQ. A case ends when the gateway
// answers the PINGREQ, closes the connection, or (for bytes that declare more data than they
// carry: the gateway rightly waits for it) after CASE_BOUND_MS. Throughout, a reference device
// keeps getting PUBACKs and /healthz keeps answering: zero crashes, zero hangs. RSS of the
// daemon is sampled after warm-up and at the end: memory stays bounded.

const cases = envCount("VIGIL_FUZZ_MQTT_CASES", 2_000);
const seed = runSeed();
const CONCURRENCY = 64;
const CASE_BOUND_MS = 2_500;
const dir = tempDir("vigil-mqtt-fuzz-");
let daemon: Daemon;
const fuzzers: DeviceCredentials[] = [];
let reference: DeviceCredentials;
let referenceClient: MqttClient;

before(async () => {
  daemon = await launchDaemon({
    dataDir: join(dir.path, "data"),
    flags: [
      "--mqtt-max-connections-per-source",
      "1000000",
      "--mqtt-connect-timeout-ms",
      "1000",
      "--mqtt-handshake-timeout-ms",
      "2000",
    ],
  });
  const tokens = await claimTokens(daemon.admin, "plc", 17);
  for (let i = 0; i < 16; i++) fuzzers.push(await enrollWithToken(daemon, dir.path, `mqtt-fuzz-${i}`, tokens[i] as string));
  reference = await enrollWithToken(daemon, dir.path, "mqtt-fuzz-reference", tokens[16] as string);
  referenceClient = await mqtt.connectAsync(daemon.mqttUrl, {
    key: reference.keyPem,
    cert: reference.certPem,
    ca: reference.caPem,
    clientId: reference.deviceId,
    protocolVersion: 4,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
  });
});

after(async () => {
  await referenceClient?.endAsync(true).catch(() => undefined);
  await daemon?.stop();
  dir.remove();
});

// ---- MQTT 3.1.1 packets by hand (so that mutation starts from exact bytes) ----

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

function str(value: string | Buffer): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);
}

/** CONNECT, MQTT 3.1.1, clean session, keep-alive 1 s (so that a stalled session is closed after 1.5 s). */
function connectPacket(clientId: string): Buffer {
  return packet(0x10, Buffer.concat([str("MQTT"), Buffer.from([0x04, 0x02, 0x00, 0x01]), str(clientId)]));
}

function validPackets(id: string): Buffer[] {
  const telemetry = `devices/${id}/telemetry`;
  return [
    connectPacket(id),
    packet(0x30, Buffer.concat([str(telemetry), Buffer.from('{"t":21.5}')])),
    packet(0x32, Buffer.concat([str(telemetry), Buffer.from([0x00, 0x07]), Buffer.from('{"t":1}')])),
    packet(0x31, Buffer.concat([str(telemetry), Buffer.from("retained")])),
    packet(0x82, Buffer.concat([Buffer.from([0x00, 0x01]), str(`devices/${id}/config`), Buffer.from([0x01])])),
    packet(0x82, Buffer.concat([Buffer.from([0x00, 0x02]), str("#"), Buffer.from([0x00])])),
    packet(0xa2, Buffer.concat([Buffer.from([0x00, 0x03]), str(`devices/${id}/config`)])),
    Buffer.from([0x40, 0x02, 0x00, 0x01]),
    Buffer.from([0xc0, 0x00]),
    Buffer.from([0xe0, 0x00]),
  ];
}

/** The mqtt-packet package's own test vectors: every Buffer.from([...]) literal of its test.js. */
function mqttPacketVectors(): Buffer[] {
  const text = readFileSync(join(repoRoot, "node_modules/mqtt-packet/test.js"), "utf8");
  const out: Buffer[] = [];
  for (const m of text.matchAll(/Buffer\.from\(\[([\s\S]*?)\]\)/g)) {
    const tokens = (m[1] ?? "")
      .replace(/\/\/.*$/gm, "")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
    if (tokens.every((x) => /^(0x[0-9a-f]+|\d+)$/i.test(x))) out.push(Buffer.from(tokens.map((x) => Number(x) & 0xff)));
  }
  return out;
}

type Outcome = "answered" | "closed" | "refused" | "waiting";

/** One case: TLS with the device's certificate, optionally a valid CONNECT first, the bytes, a PINGREQ. */
function runCase(creds: DeviceCredentials, input: Buffer, afterConnect: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const socket = tlsConnect(
      { host: "127.0.0.1", port: daemon.mqttPort, key: creds.keyPem, cert: creds.certPem, ca: creds.caPem, servername: "" },
      () => {
        if (afterConnect) socket.write(connectPacket(creds.deviceId));
        else socket.write(Buffer.concat([input, Buffer.from([0xc0, 0x00])]));
      },
    );
    let connacked = !afterConnect;
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!connacked && received.length >= 4) {
        connacked = true;
        if (received[0] !== 0x20 || received[3] !== 0x00) return finish("refused"); // CONNECT refused (e.g. quarantined)
        received = received.subarray(4);
        socket.write(Buffer.concat([input, Buffer.from([0xc0, 0x00])]));
        return;
      }
      // PINGRESP anywhere in what came back after our bytes: the gateway parsed past them.
      if (connacked && received.includes(Buffer.from([0xd0, 0x00]))) finish("answered");
    });
    socket.on("close", () => finish("closed"));
    socket.on("error", () => finish("closed"));
    const timer = setTimeout(() => finish("waiting"), CASE_BOUND_MS);
  });
}

/** The reference device still gets a PUBACK and /healthz still answers, both within a bound. */
async function gatewayAlive(): Promise<string | undefined> {
  if (!(await daemon.healthy(10_000))) return "the daemon died or /healthz did not answer within 10 s";
  const puback = referenceClient
    .publishAsync(`devices/${reference.deviceId}/telemetry`, '{"t":20}', { qos: 1 })
    .then(() => undefined)
    .catch((error: unknown) => `reference publish failed: ${(error as Error).message}`);
  const bound = new Promise<string>((resolve) =>
    setTimeout(() => resolve("no PUBACK for the reference device within 10 s"), 10_000).unref(),
  );
  return Promise.race([puback, bound]);
}

test(`fuzz: MQTT packets over mutual TLS: no crash, no hang, memory bounded (${cases} cases, seed ${seed})`, async () => {
  const vectors = mqttPacketVectors();
  assert.ok(vectors.length > 100, `mqtt-packet test vectors found (${vectors.length})`);
  const outcomes: Record<Outcome, number> = { answered: 0, closed: 0, refused: 0, waiting: 0 };
  const spentMs: Record<Outcome, number> = { answered: 0, closed: 0, refused: 0, waiting: 0 };
  const indices = caseIndices(cases);
  const warmupAt = Math.min(200, Math.floor(indices.length / 4));
  let rssWarm: number | undefined;
  const memory = new FuzzMemoryCurve(daemon, cases);
  let next = 0;
  let done = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (failure === undefined && next < indices.length) {
      const i = indices[next++] as number;
      const rng = Rng.forCase(seed, i, "mqtt");
      const creds = rng.pick(fuzzers);
      const own = validPackets(creds.deviceId);
      const corpus = [...own, ...vectors];
      const afterConnect = rng.chance(0.6);
      const base = afterConnect ? rng.pick(corpus) : rng.chance(0.5) ? (own[0] as Buffer) : rng.pick(corpus);
      const input = mutateBytes(rng, base, corpus, 64 * 1024);
      const started = Date.now();
      const outcome = await runCase(creds, input, afterConnect);
      outcomes[outcome]++;
      spentMs[outcome] += Date.now() - started;
      done++;
      if (done === warmupAt) rssWarm = daemon.rssKiB();
      memory.note(done);
      if (done % 250 === 0) {
        const why = await gatewayAlive();
        if (why !== undefined) failure = fuzzFailure("mqtt-fuzz", seed, i, input, why);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (failure) throw failure;
  const why = await gatewayAlive();
  assert.equal(why, undefined, `after ${done} cases: ${why}`);
  const rssEnd = daemon.rssKiB() as number;
  const figures = {
    seed,
    cases: done,
    outcomes,
    spentMs,
    vectors: vectors.length,
    rssWarmKiB: rssWarm,
    rssEndKiB: rssEnd,
    memory: await memory.samples(),
  };
  process.stdout.write(`mqtt-fuzz figures: ${JSON.stringify(figures)}\n`);
  writeFuzzFigures("mqtt-fuzz", "MQTT", figures, warmupAt);
  assert.ok(
    outcomes.answered > 0 && outcomes.closed > 0,
    `both answers and refusals were exercised: ${JSON.stringify(outcomes)}`,
  );
  // Bounded memory: what the run holds after warm-up may grow by half, not with the case count
  // (a leak of one TLS session per case would add ~65 KB x cases).
  if (rssWarm !== undefined) assert.ok(rssEnd < rssWarm * 1.5 + 32 * 1024, `RSS grew from ${rssWarm} KiB to ${rssEnd} KiB`);
});
