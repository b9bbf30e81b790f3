// Load generator for `npm run bench -- gateway`, run in a worker thread so that it does not
// share the broker's event loop. N publisher devices and one subscriber, all MQTT.js over
// mutual TLS. Closed loop: each publisher keeps at most `window` messages between its
// PUBLISH and their delivery to the subscriber, so that latency is measured at the load the
// broker sustains rather than on an ever-growing queue. Payload (`payloadKind`): "binary", the
// send time (8 bytes, performance.now(), same clock on both ends), the publisher's index (4
// bytes), filler; or "json", telemetry {"ts","i","t","rh","p","seq"} padded to `payloadBytes`
// (what the detector's payload scanner and drift test read: `npm run bench -- detection`).
// Plain JavaScript: workers do not inherit the TypeScript loader.
import mqtt from "mqtt";
import { parentPort, workerData } from "node:worker_threads";

const { url, ca, devices, collector, qos, seconds, warmupSeconds, window, payloadBytes, maxSamples } = workerData;
const json = workerData.payloadKind === "json";
let seq = 0;

function encode(index) {
  if (json) {
    const noise = Math.random() + Math.random() + Math.random() - 1.5;
    return JSON.stringify({
      ts: performance.now(),
      i: index,
      t: Math.round((21 + noise) * 10) / 10,
      rh: Math.round(55 + 4 * noise),
      p: Math.round(1013 + 6 * noise),
      seq: seq++,
    }).padEnd(payloadBytes, " ");
  }
  const payload = Buffer.alloc(payloadBytes, 0x2e);
  payload.writeDoubleLE(performance.now(), 0);
  payload.writeUInt32LE(index, 8);
  return payload;
}

/** [publisher index, send time] of a delivered payload. */
function decode(raw) {
  if (json) {
    const p = JSON.parse(raw.toString());
    return [p.i, p.ts];
  }
  return [raw.readUInt32LE(8), raw.readDoubleLE(0)];
}

function connectClient(identity) {
  return mqtt.connectAsync(url, {
    clientId: identity.id,
    cert: identity.cert,
    key: identity.key,
    ca,
    protocolVersion: 4,
    reconnectPeriod: 0,
    keepalive: 60,
    connectTimeout: 30_000,
    clean: true,
  });
}

const inflight = new Int32Array(devices.length);
const samples = [];
let seen = 0;
let measuring = false;
let running = true;
let delivered = 0;
let sent = 0;
const errors = [];

const subscriber = await connectClient(collector);
subscriber.on("error", (e) => errors.length < 5 && errors.push(`subscriber: ${e.message}`));
const publishers = [];
for (let i = 0; i < devices.length; i += 10) {
  publishers.push(...(await Promise.all(devices.slice(i, i + 10).map((d) => connectClient(d)))));
}
const topics = devices.map((d) => `devices/${d.id}/telemetry`);
await subscriber.subscribeAsync("devices/+/telemetry", { qos });

function send(index) {
  const payload = encode(index);
  inflight[index]++;
  if (measuring) sent++;
  publishers[index].publish(topics[index], payload, { qos }, (error) => {
    if (error && errors.length < 5) errors.push(`publisher ${index}: ${error.message}`);
  });
}

subscriber.on("message", (_topic, raw) => {
  const now = performance.now();
  const [index, sentAt] = decode(raw);
  inflight[index]--;
  if (measuring) {
    delivered++;
    const latency = now - sentAt;
    // Reservoir sample of the latencies.
    seen++;
    if (samples.length < maxSamples) samples.push(latency);
    else {
      const slot = Math.floor(Math.random() * seen);
      if (slot < maxSamples) samples[slot] = latency;
    }
  }
  if (running && inflight[index] < window) send(index);
});
for (const p of publishers) p.on("error", (e) => errors.length < 5 && errors.push(`publisher: ${e.message}`));

for (let i = 0; i < devices.length; i++) for (let w = 0; w < window; w++) send(i);
await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));
measuring = true;
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
measuring = false;
const elapsed = (performance.now() - started) / 1000;
running = false;
await new Promise((resolve) => setTimeout(resolve, 500));
await Promise.all([...publishers, subscriber].map((c) => c.endAsync(true).catch(() => undefined)));
parentPort.postMessage({ delivered, sent, seconds: elapsed, latencies: samples, errors });
