import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { InProcessBus, ManualClock, createRootLogger } from "../core/index.js";
import type { SignalMap } from "../signals/index.js";
import type { OutgoingEvent } from "./outgoing-event.js";
import { MemoryDeadLetters, WebhookSink } from "./webhook-sink.js";

const secret = Buffer.from("0123456789abcdef0123456789abcdef");
interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}
let server: Server;
let url = "";
const received: Received[] = [];
/** Status codes to answer with, in order; then 204. */
let script: number[] = [];

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.statusCode = script.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function event(n: number): OutgoingEvent {
  return {
    schema: "vigil.response.v1",
    id: `evt-${n}`,
    type: "incident.opened",
    at: "2026-01-01T00:00:00.000Z",
    incident: {
      id: "inc-1",
      device: "cam-1",
      state: "open",
      severity: "high",
      rules: ["flood"],
      categories: ["flood"],
      openedAt: "2026-01-01T00:00:00.000Z",
    },
    detail: {},
  };
}

function sink(maxAttempts = 3) {
  const bus = new InProcessBus<SignalMap>();
  const dead: SignalMap["notification.dead_lettered"][] = [];
  bus.on("notification.dead_lettered", (d) => dead.push(d));
  const sleeps: number[] = [];
  const deadLetters = new MemoryDeadLetters();
  const s = new WebhookSink({
    url,
    secret,
    maxAttempts,
    backoffMs: 100,
    timeoutMs: 2000,
    deadLetters,
    bus,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    log: createRootLogger({ level: "silent" }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { s, dead, sleeps, deadLetters };
}

/** What a receiver does: recompute the MAC over `timestamp.body` and compare in constant time. */
function verify(r: Received): boolean {
  const ts = String(r.headers["x-vigil-timestamp"]);
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(`${ts}.${r.body}`).digest("hex")}`);
  const got = Buffer.from(String(r.headers["x-vigil-signature"]));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

test("delivered once with a valid HMAC-SHA256 signature and the event's headers", async () => {
  received.length = 0;
  script = [];
  const { s } = sink();
  s.send(event(1));
  await s.drain();
  assert.equal(received.length, 1);
  assert.ok(verify(received[0]!));
  assert.equal(received[0]!.headers["x-vigil-event"], "incident.opened");
  assert.equal(received[0]!.headers["x-vigil-delivery"], "evt-1");
  assert.deepEqual(JSON.parse(received[0]!.body), event(1));
  // A tampered body does not verify.
  assert.equal(verify({ ...received[0]!, body: received[0]!.body.replace("cam-1", "cam-2") }), false);
});

test("a 500 is retried with exponential backoff and then delivered; order is kept", async () => {
  received.length = 0;
  script = [500, 503];
  const { s, sleeps, dead } = sink(5);
  s.send(event(2));
  s.send(event(3));
  await s.drain();
  assert.deepEqual(
    received.map((r) => `${String(r.headers["x-vigil-delivery"])}#${String(r.headers["x-vigil-attempt"])}`),
    ["evt-2#1", "evt-2#2", "evt-2#3", "evt-3#1"],
  );
  assert.deepEqual(sleeps, [100, 200]);
  assert.ok(received.every(verify));
  assert.equal(s.delivered, 2);
  assert.deepEqual(dead, []);
});

test("after N failures the event is dead-lettered (recorded and signalled), and the queue moves on", async () => {
  received.length = 0;
  script = [500, 500, 500];
  const { s, dead, deadLetters, sleeps } = sink(3);
  s.send(event(4));
  s.send(event(5));
  await s.drain();
  assert.equal(received.length, 4);
  assert.deepEqual(sleeps, [100, 200]);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.event, "evt-4");
  assert.equal(dead[0]!.error, "HTTP 500");
  const [letter] = await deadLetters.list(10);
  assert.equal(letter!.attempts, 3);
  assert.equal(letter!.event.id, "evt-4");
  assert.equal(s.delivered, 1);
});

test("a receiver that is down: connection errors are retried, then dead-lettered", async () => {
  const dead: SignalMap["notification.dead_lettered"][] = [];
  const bus = new InProcessBus<SignalMap>();
  bus.on("notification.dead_lettered", (d) => dead.push(d));
  const down = new WebhookSink({
    url: "http://127.0.0.1:1/hook",
    secret,
    maxAttempts: 2,
    backoffMs: 1,
    timeoutMs: 1000,
    deadLetters: new MemoryDeadLetters(),
    bus,
    clock: new ManualClock(),
    log: createRootLogger({ level: "silent" }),
    sleep: async () => undefined,
  });
  down.send(event(6));
  await down.drain();
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.attempts, 2);
});
