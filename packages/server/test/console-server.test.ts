import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, get as httpGet, type IncomingMessage, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Fastify from "fastify";
import { EventStreamHub } from "../src/api/event-stream-hub.js";
import { CONSOLE_SECURITY_HEADERS, consoleRoutes } from "../src/api/routes/console.js";
import { callApi } from "../src/cli/client.js";
import { InProcessBus, createRootLogger, systemClock } from "../src/core/index.js";
import type { SignalMap } from "../src/signals/index.js";
import { firstLogin, startPlatform, tempDir, type TestPlatform } from "./support.js";
import { waitFor } from "./gateway-support.js";

// The console's server side: the static app with its security headers (and a clear 503 when
// it is not built), and the live event stream (auth, permission and site filtering, logout).

const quiet = createRootLogger({ level: "silent" });

test("console without a build: 503 page saying to run npm run build, with the security headers", async () => {
  const dir = tempDir("vigil-console-empty-");
  const app = Fastify();
  await app.register(consoleRoutes, { consoleDir: dir.path });
  try {
    const page = await app.inject({ method: "GET", url: "/console/devices" });
    assert.equal(page.statusCode, 503);
    assert.match(page.body, /npm run build/);
    assert.equal(page.headers["cache-control"], "no-store");
    for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) assert.equal(page.headers[name], value, name);
    const root = await app.inject({ method: "GET", url: "/" });
    assert.deepEqual([root.statusCode, root.headers.location], [302, "/console/"]);
  } finally {
    await app.close();
    dir.remove();
  }
});

test("console build: files served, app routes fall back to index.html, nothing outside the build, strict CSP", async () => {
  const dir = tempDir("vigil-console-built-");
  mkdirSync(join(dir.path, "dist", "assets"), { recursive: true });
  writeFileSync(join(dir.path, "dist", "index.html"), "<!doctype html><title>Vigil console</title>");
  writeFileSync(join(dir.path, "dist", "assets", "app-1234.js"), "console.log(1)");
  writeFileSync(join(dir.path, "secret.txt"), "outside the build");
  const app = Fastify();
  await app.register(consoleRoutes, { consoleDir: join(dir.path, "dist") });
  try {
    const deep = await app.inject({ method: "GET", url: "/console/incidents/inc-1" });
    assert.equal(deep.statusCode, 200);
    assert.match(deep.body, /Vigil console/);
    assert.equal(deep.headers["cache-control"], "no-cache");
    const csp = String(deep.headers["content-security-policy"]);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(deep.headers["x-content-type-options"], "nosniff");
    assert.equal(deep.headers["referrer-policy"], "no-referrer");
    const asset = await app.inject({ method: "GET", url: "/console/assets/app-1234.js" });
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers["content-type"]), /javascript/);
    assert.match(String(asset.headers["cache-control"]), /immutable/);
    assert.equal((await app.inject({ method: "GET", url: "/console/assets/missing.js" })).statusCode, 404);
    for (const url of ["/console/../secret.txt", "/console/%2e%2e/secret.txt", "/console/..%2fsecret.txt"]) {
      const r = await app.inject({ method: "GET", url });
      assert.doesNotMatch(r.body, /outside the build/, url);
    }
  } finally {
    await app.close();
    dir.remove();
  }
});

/** An open event stream over HTTPS: the frames received so far, and whether it ended. */
interface Stream {
  status: number;
  frames: { event: string; data: string }[];
  raw: string;
  ended: boolean;
  close(): void;
}

function openStream(t: TestPlatform, token: string | undefined, accept = "text/event-stream", cookie?: string): Promise<Stream> {
  const url = new URL("/api/v1/events/stream", t.platform.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca: t.platform.ca,
        headers: { accept, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(cookie ? { cookie } : {}) },
      },
      (res: IncomingMessage) => {
        const stream: Stream = { status: res.statusCode ?? 0, frames: [], raw: "", ended: false, close: () => req.destroy() };
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          stream.raw += chunk;
          let cut: number;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event !== undefined && data !== undefined) stream.frames.push({ event, data });
            else if (data !== undefined) stream.frames.push({ event: "message", data });
          }
        });
        res.on("end", () => (stream.ended = true));
        res.on("close", () => (stream.ended = true));
        resolve(stream);
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? undefined : reject(e)));
    req.end();
  });
}

const signalsOf = (s: Stream) =>
  s.frames.filter((f) => f.event === "signal").map((f) => JSON.parse(f.data) as { name: string; payload: { device?: string } });

let t: TestPlatform;
const tokens: Record<string, string> = {};

before(async () => {
  t = await startPlatform();
  for (const [username, role, sites] of [
    ["north-security", "security-operator", ["north"]],
    ["all-fleet", "fleet-operator", ["*"]],
    ["integrator", "device-integrator", ["*"]],
  ] as const) {
    const created = await callApi<{ oneTimePassword: string }>(t.admin, "POST", "/api/v1/operators", {
      username,
      role,
      sites,
    });
    tokens[username] = (
      await firstLogin(t.anonymous, {
        username,
        oneTimePassword: created.data.oneTimePassword,
        newPassword: `${username} long passphrase`,
        now: () => t.clock.now(),
      })
    ).token;
  }
});
after(async () => {
  await t.stop();
});

test("event stream: refused without a token, to a role without the permission, and without Accept: text/event-stream", async () => {
  const anonymous = await openStream(t, undefined);
  assert.equal(anonymous.status, 401);
  const integrator = await openStream(t, tokens.integrator);
  assert.equal(integrator.status, 403);
  const noAccept = await openStream(t, t.admin.token, "application/json");
  assert.equal(noAccept.status, 400);
  await waitFor(() => noAccept.ended, 5_000, "the 400 answer to end");
  assert.match(noAccept.raw, /REQUEST_INVALID/);
});

test("event stream: signals arrive live, filtered by sites and by permission; logout ends the stream", async () => {
  const admin = await openStream(t, t.admin.token);
  const north = await openStream(t, tokens["north-security"]);
  const fleet = await openStream(t, tokens["all-fleet"]);
  assert.deepEqual([admin.status, north.status, fleet.status], [200, 200, 200]);
  try {
    await callApi(t.admin, "POST", "/api/v1/devices", { id: "north-cam", site: "north" });
    await callApi(t.admin, "POST", "/api/v1/devices", { id: "south-cam", site: "south" });
    const registered = (s: Stream) =>
      signalsOf(s)
        .filter((e) => e.name === "device.registered")
        .map((e) => e.payload.device);
    await waitFor(() => registered(admin).length === 2 && registered(fleet).length === 2, 5_000, "both registrations");
    await waitFor(() => registered(north).length >= 1, 5_000, "north registration");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(registered(admin), ["north-cam", "south-cam"]);
    assert.deepEqual(registered(north), ["north-cam"], "a north-bound operator never sees a south device's events");

    // report.generated needs audit:read: the admin gets it, the fleet operator does not.
    const report = await callApi(t.admin, "GET", "/api/v1/reports/compliance?format=json");
    assert.equal(report.status, 200);
    await waitFor(() => signalsOf(admin).some((e) => e.name === "report.generated"), 5_000, "report.generated");
    await callApi(t.admin, "POST", "/api/v1/devices", { id: "marker", site: "south" });
    await waitFor(() => registered(fleet).includes("marker"), 5_000, "the marker after the report");
    assert.ok(!signalsOf(fleet).some((e) => e.name === "report.generated"), "fleet-operator lacks audit:read");
    assert.ok(
      !signalsOf(admin).some((e) => e.name.startsWith("auth.") || e.name.startsWith("token.")),
      "auth signals never stream",
    );

    // Logging out (revoking the token) ends that stream at once with the reason; the others go on.
    await callApi({ ...t.anonymous, token: tokens["all-fleet"] }, "POST", "/api/v1/auth/logout");
    await waitFor(() => fleet.ended, 5_000, "the logged-out stream to end");
    const end = fleet.frames.find((f) => f.event === "end");
    assert.match(end?.data ?? "", /revoked/);
    assert.equal(admin.ended, false);
    const again = await openStream(t, tokens["all-fleet"]);
    assert.equal(again.status, 401, "the revoked token cannot reopen it");
  } finally {
    admin.close();
    north.close();
    fleet.close();
  }
});

test("event stream over a console session: logging out of the console ends it", async () => {
  const login = await t.platform.http.inject({
    method: "POST",
    url: "/api/v1/auth/session",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ username: "admin", password: t.adminPassword, totp: await t.totp() }),
  });
  assert.equal(login.statusCode, 201, login.body);
  const setCookies = ([] as string[]).concat(login.headers["set-cookie"] ?? []);
  const cookie = setCookies.map((c) => c.split(";")[0]).join("; ");
  const { csrfToken } = JSON.parse(login.body) as { csrfToken: string };
  const stream = await openStream(t, undefined, "text/event-stream", cookie);
  assert.equal(stream.status, 200);
  try {
    await callApi(t.admin, "POST", "/api/v1/devices", { id: "session-cam" });
    await waitFor(() => signalsOf(stream).some((e) => e.payload.device === "session-cam"), 5_000, "the event over the session");
    const logout = await t.platform.http.inject({
      method: "DELETE",
      url: "/api/v1/auth/session",
      headers: { cookie, "x-csrf-token": csrfToken },
    });
    assert.equal(logout.statusCode, 204, logout.body);
    await waitFor(() => stream.ended, 5_000, "the stream to end at logout");
    assert.match(stream.frames.find((f) => f.event === "end")?.data ?? "", /logout/);
    assert.equal((await openStream(t, undefined, "text/event-stream", cookie)).status, 401);
  } finally {
    stream.close();
  }
});

test("event stream hub: a client that stops reading is dropped; the server and the other clients go on", async () => {
  const bus = new InProcessBus<SignalMap>();
  const hub = new EventStreamHub({
    bus,
    clock: systemClock,
    log: quiet,
    siteOf: async () => "default",
    limits: { maxBufferedBytes: 64 * 1024, ratePerSecond: 1_000_000, burst: 1_000_000, heartbeatMs: 60_000 },
  });
  const reader = { username: "x", credentialId: "c", sites: undefined, may: () => true, check: async () => undefined };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    void hub.attach(reader, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const open = () =>
    new Promise<IncomingMessage>((resolve) =>
      httpGet({ host: "127.0.0.1", port, path: "/" }, resolve).on("error", () => undefined),
    );
  const slow = await open();
  slow.pause(); // reads nothing more: the kernel buffers fill, then the server's
  const fast = await open();
  let fastBytes = 0;
  fast.on("data", (c: Buffer) => (fastBytes += c.length));
  await waitFor(() => hub.clients === 2, 5_000, "two clients");
  const big = "x".repeat(4000);
  try {
    // About 4 MB/s: the fast reader keeps up, the paused one's socket buffers fill within seconds.
    for (let round = 0; round < 2000 && hub.clients === 2; round++) {
      for (let i = 0; i < 10; i++) {
        bus.emit("campaign.created", { campaign: `c${i}`, name: big, artifact: "a", devices: 1, waves: 1, by: "t" });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(() => hub.clients === 1, 10_000, "the slow client to be dropped");
    assert.ok(hub.dropped >= 1);
    const before = fastBytes;
    bus.emit("campaign.started", { campaign: "after", by: "t" });
    await waitFor(() => fastBytes > before, 5_000, "the fast client still served");
  } finally {
    slow.destroy();
    fast.destroy();
    hub.endAll("test done");
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("event stream hub: a credential found invalid at a heartbeat ends its stream with the reason", async () => {
  const bus = new InProcessBus<SignalMap>();
  const hub = new EventStreamHub({
    bus,
    clock: systemClock,
    log: quiet,
    siteOf: async () => "default",
    limits: { heartbeatMs: 50 },
  });
  let reason: string | undefined;
  const reader = { username: "x", credentialId: "c", sites: undefined, may: () => true, check: async () => reason };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    void hub.attach(reader, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const res = await new Promise<IncomingMessage>((resolve) =>
      httpGet({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, path: "/" }, resolve),
    );
    let body = "";
    let ended = false;
    res.on("data", (c: Buffer) => (body += c.toString()));
    res.on("end", () => (ended = true));
    await waitFor(() => /: heartbeat/.test(body), 5_000, "a heartbeat");
    assert.equal(ended, false, "a valid credential keeps its stream");
    reason = "the session expired after inactivity: log in again";
    await waitFor(() => ended, 5_000, "the stream to end");
    assert.match(body, /event: end\ndata: \{"reason":"the session expired after inactivity/);
    assert.equal(hub.clients, 0);
  } finally {
    hub.endAll("test done");
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
