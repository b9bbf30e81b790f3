import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { ResponseEventDto } from "@vigil/contract";
import { InProcessBus, ManualClock, createRootLogger } from "../core/index.js";
import type { SignalMap } from "../signals/index.js";
import type { OutgoingEvent } from "./outgoing-event.js";
import { SyslogSink, toCef } from "./syslog-sink.js";
import { MemoryDeadLetters, WebhookSink } from "./webhook-sink.js";

const log = createRootLogger({ level: "silent" });

function event(n: number, detail: Record<string, unknown> = {}): OutgoingEvent {
  return {
    schema: "vigil.response.v1",
    id: `evt-${n}`,
    type: "incident.action",
    at: "2026-03-01T12:00:00.123Z",
    incident: {
      id: "inc-1",
      device: "cam|1",
      state: "contained",
      severity: "high",
      rules: ["lateral_movement"],
      categories: ["scanning"],
      openedAt: "2026-03-01T11:59:00.000Z",
    },
    detail: { action: "quarantine", outcome: "done", by: "pb", detail: `a=b \\ c\nnext ${n}`, ...detail },
  };
}

/** RFC 5424 §6: HEADER SP STRUCTURED-DATA SP MSG. */
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$/s;

test("UDP: each event is one RFC 5424 datagram whose MSG is a CEF record with escaped fields", async () => {
  const server = createSocket("udp4");
  const got: string[] = [];
  server.on("message", (m) => got.push(m.toString("utf8")));
  await new Promise<void>((r) => server.bind(0, "127.0.0.1", r));
  const sink = new SyslogSink({
    host: "127.0.0.1",
    port: server.address().port,
    transport: "udp",
    facility: 13,
    hostname: "vigil host",
    version: "1.2|3",
    log,
  });
  try {
    assert.ok(ResponseEventDto.safeParse(event(1)).success, "the fixture is a valid outgoing event");
    sink.send(event(1));
    await sink.drain();
    const deadline = Date.now() + 5_000;
    while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const m = RFC5424.exec(got[0] ?? "");
    assert.ok(m, got[0]);
    assert.equal(Number(m[1]), 13 * 8 + 3, "PRI = facility 13 (log audit) x 8 + severity 3 (high)");
    assert.equal(m[2], "2026-03-01T12:00:00.123Z");
    assert.equal(m[3], "vigilhost", "HOSTNAME is PRINTUSASCII only");
    assert.equal(m[4], "vigil");
    assert.equal(m[5], String(process.pid));
    assert.equal(m[6], "incident.action");
    assert.equal(m[7], "-");
    const cef = m[8]!;
    assert.ok(cef.startsWith("CEF:0|Vigil|Vigil|1.2\\|3|incident.action|quarantine done on cam\\|1|8|"), cef);
    assert.match(cef, / cs2=cam\|1 /, "pipes are not escaped in extension values");
    assert.match(cef, / msg=a\\=b \\\\ c\\nnext 1$/, "extension values escape =, backslash and newline");
    assert.match(cef, /externalId=evt-1 /);
    assert.doesNotMatch(cef, /\n/, "one line");
  } finally {
    await sink.stop();
    server.close();
  }
});

test("TCP: octet-counting framing (RFC 6587); a collector that comes up late still gets every message in order", async () => {
  // Find a free port, then leave it closed: the collector is down at first.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const sink = new SyslogSink({ host: "127.0.0.1", port, transport: "tcp", facility: 16, version: "1", log });
  let collector: Server | undefined;
  const sockets: Socket[] = [];
  try {
    for (let n = 1; n <= 5; n++) sink.send(event(n, { outcome: n % 2 === 0 ? "failed" : "done" }));
    await new Promise((r) => setTimeout(r, 150));
    let stream = Buffer.alloc(0);
    collector = createServer((s) => {
      sockets.push(s);
      s.on("data", (c: Buffer) => (stream = Buffer.concat([stream, c])));
    });
    await new Promise<void>((r) => collector!.listen(port, "127.0.0.1", r));
    await sink.drain();
    const deadline = Date.now() + 5_000;
    const frames: string[] = [];
    while (Date.now() < deadline) {
      frames.length = 0;
      let rest = stream;
      for (;;) {
        const space = rest.indexOf(0x20);
        if (space < 0) break;
        const len = Number(rest.subarray(0, space).toString("ascii"));
        if (rest.length < space + 1 + len) break;
        frames.push(rest.subarray(space + 1, space + 1 + len).toString("utf8"));
        rest = rest.subarray(space + 1 + len);
      }
      if (frames.length >= 5) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(frames.length, 5, "every message, none lost while the collector was down");
    frames.forEach((f, i) => {
      const m = RFC5424.exec(f);
      assert.ok(m, f);
      assert.equal(Number(m[1]), 16 * 8 + 3);
      assert.match(m[8]!, new RegExp(`externalId=evt-${i + 1} `), "in order");
      assert.match(m[8]!, new RegExp(`outcome=${(i + 1) % 2 === 0 ? "failed" : "done"}`));
    });
  } finally {
    await sink.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (collector ? collector.close(() => r()) : r()));
  }
});

test("CEF severities follow the incident's severity", () => {
  const base = event(1);
  for (const [severity, cef] of [
    ["low", 3],
    ["medium", 5],
    ["high", 8],
    ["critical", 10],
  ] as const) {
    // Split on the header's separators, not on escaped pipes (`\|`).
    assert.equal(toCef({ ...base, incident: { ...base.incident, severity } }, "1").split(/(?<!\\)\|/)[6], String(cef));
  }
});

test("a webhook receiver that is down gets retries and, once up, receives every event; one never up is dead-lettered", async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const bus = new InProcessBus<SignalMap>();
  const dead = new MemoryDeadLetters();
  const attempts: number[] = [];
  let receiver: HttpServer | undefined;
  const received: string[] = [];
  const sink = new WebhookSink({
    url: `http://127.0.0.1:${port}/hook`,
    secret: Buffer.from("0123456789abcdef0123456789abcdef"),
    maxAttempts: 8,
    backoffMs: 20,
    timeoutMs: 2_000,
    deadLetters: dead,
    bus,
    clock: new ManualClock(0),
    log,
    sleep: async (ms) => {
      attempts.push(ms);
      // The receiver comes up after the third retry.
      if (attempts.length === 3) {
        receiver = createHttpServer((req, res) => {
          let body = "";
          req.on("data", (c: Buffer) => (body += c.toString()));
          req.on("end", () => {
            received.push((JSON.parse(body) as { id: string }).id);
            res.statusCode = 204;
            res.end();
          });
        });
        await new Promise<void>((r) => receiver!.listen(port, "127.0.0.1", r));
      }
      await new Promise((r) => setTimeout(r, ms));
    },
  });
  try {
    for (let n = 1; n <= 4; n++) sink.send(event(n));
    await sink.drain();
    assert.deepEqual(received, ["evt-1", "evt-2", "evt-3", "evt-4"], "nothing lost, in order");
    assert.deepEqual(attempts.slice(0, 3), [20, 40, 80], "exponential backoff while down");
    assert.equal(dead.letters.length, 0);
  } finally {
    await sink.stop();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  }

  // A receiver that never comes back: every attempt fails, the event is recorded as a dead letter.
  const gone = new WebhookSink({
    url: `http://127.0.0.1:${port}/hook`,
    secret: Buffer.from("0123456789abcdef0123456789abcdef"),
    maxAttempts: 3,
    backoffMs: 1,
    timeoutMs: 1_000,
    deadLetters: dead,
    bus,
    clock: new ManualClock(1234),
    log,
  });
  const signalled: SignalMap["notification.dead_lettered"][] = [];
  bus.on("notification.dead_lettered", (d) => signalled.push(d));
  gone.send(event(9));
  await gone.drain();
  assert.equal(dead.letters.length, 1);
  const letter = dead.letters[0]!;
  assert.equal(letter.id, "evt-9");
  assert.equal(letter.attempts, 3);
  assert.equal(letter.at, 1234);
  assert.match(letter.error, /ECONNREFUSED|fetch failed/);
  assert.deepEqual(letter.event, event(9), "the whole event is kept for a replay");
  assert.equal(signalled[0]?.event, "evt-9");
  await gone.stop();
});
