import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { ManualClock } from "../src/core/index.js";
import { ApiError, callApi } from "../src/cli/client.js";
import { startPlatform, type TestPlatform } from "./support.js";

let t: TestPlatform;
const clock = new ManualClock(Date.now());

before(async () => {
  t = await startPlatform({ clock });
});
after(async () => {
  await t.stop();
});

async function expectError(promise: Promise<unknown>, status: number, code: string): Promise<ApiError> {
  const error = await promise.then(
    () => assert.fail(`expected ${status} ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ApiError, String(error));
  assert.equal(error.status, status, `${error.code}: ${error.message}`);
  assert.equal(error.code, code);
  return error;
}

/** Raw HTTPS request for bodies the typed client cannot send. */
function raw(
  method: string,
  path: string,
  body: Buffer | string,
  headers: Record<string, string>,
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, t.platform.url);
    const req = request(url, { method, ca: t.platform.ca, headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("healthz and readyz answer without a token over HTTPS verified by Vigil's CA", async () => {
  const health = await callApi<{ status: string; version: string }>(t.anonymous, "GET", "/healthz");
  assert.equal(health.data.status, "ok");
  const ready = await callApi<{ ready: boolean; services: { name: string; state: string }[] }>(t.anonymous, "GET", "/readyz");
  assert.equal(ready.data.ready, true);
  assert.deepEqual(
    ready.data.services.map((s) => s.name),
    [
      "data-dir",
      "store",
      "keys",
      "audit",
      "signals",
      "pki",
      "policy",
      "operators",
      "cluster",
      "trust",
      "gateway",
      "detection",
      "assessment",
      "ota",
      "response",
      "api",
    ],
  );
});

test("a client that does not trust Vigil's CA cannot connect", async () => {
  await assert.rejects(callApi({ url: t.platform.url }, "GET", "/healthz"), (e: unknown) =>
    /CLI_SERVER_UNREACHABLE|SELF_SIGNED|UNABLE_TO/.test(String((e as Error).message)),
  );
});

test("every /api/v1 route needs a token: 401 AUTH_REQUIRED without one", async () => {
  for (const [method, path] of [
    ["GET", "/api/v1/devices"],
    ["GET", "/api/v1/devices/x"],
    ["POST", "/api/v1/devices"],
    ["GET", "/api/v1/status"],
    ["GET", "/api/v1/auth/whoami"],
    ["POST", "/api/v1/auth/password"],
    ["POST", "/api/v1/auth/logout"],
  ] as const) {
    await expectError(callApi(t.anonymous, method, path, method === "POST" ? {} : undefined), 401, "AUTH_REQUIRED");
  }
});

test("the OpenAPI document is public and lists the routes with their schemas", async () => {
  const { data } = await callApi<{ openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> }>(
    t.anonymous,
    "GET",
    "/docs/json",
  );
  assert.match(data.openapi, /^3\./);
  for (const path of ["/healthz", "/readyz", "/api/v1/devices/", "/api/v1/auth/login", "/api/v1/status"])
    assert.ok(data.paths[path], `missing ${path}`);
  assert.ok(data.paths["/api/v1/auth/login"]?.post?.requestBody, "login body schema is documented");
});

test("a tampered token and an expired token are refused with their own codes", async () => {
  const token = t.admin.token!;
  const tampered = `${token.slice(0, -2)}${token.endsWith("xx") ? "yy" : "xx"}`;
  await expectError(callApi({ ...t.admin, token: tampered }, "GET", "/api/v1/devices"), 401, "AUTH_TOKEN_INVALID");
  await expectError(callApi({ ...t.admin, token: "not a token at all" }, "GET", "/api/v1/devices"), 401, "AUTH_TOKEN_INVALID");
  const shortLived = await callApi<{ token: string }>(t.anonymous, "POST", "/api/v1/auth/login", {
    username: "admin",
    password: t.adminPassword,
    ttlSeconds: 60,
    totp: await t.totp(),
  });
  const target = { ...t.anonymous, token: shortLived.data.token };
  await callApi(target, "GET", "/api/v1/devices");
  clock.advance(61_000);
  await expectError(callApi(target, "GET", "/api/v1/devices"), 401, "AUTH_TOKEN_EXPIRED");
});

test("a read-only token cannot write: 403 AUTH_SCOPE_MISSING, and nothing is created", async () => {
  const login = await callApi<{ token: string }>(t.anonymous, "POST", "/api/v1/auth/login", {
    username: "admin",
    password: t.adminPassword,
    scopes: ["read"],
    totp: await t.totp(),
  });
  const reader = { ...t.anonymous, token: login.data.token };
  await expectError(callApi(reader, "POST", "/api/v1/devices", { id: "scope-test" }), 403, "AUTH_SCOPE_MISSING");
  await expectError(callApi(t.admin, "GET", "/api/v1/devices/scope-test"), 404, "DEVICE_NOT_FOUND");
});

test("devices: register, read back, page through, and refuse duplicates and bad ids", async () => {
  for (let i = 0; i < 5; i++) await callApi(t.admin, "POST", "/api/v1/devices", { id: `pump-${i}`, profile: "infusion-pump" });
  const one = await callApi<{ id: string; state: string; profile: string }>(t.admin, "GET", "/api/v1/devices/pump-3");
  assert.deepEqual([one.data.id, one.data.state, one.data.profile], ["pump-3", "pending", "infusion-pump"]);
  const page1 = await callApi<{ items: { id: string }[]; next: string | null }>(t.admin, "GET", "/api/v1/devices?limit=3");
  assert.equal(page1.data.items.length, 3);
  const page2 = await callApi<{ items: { id: string }[]; next: string | null }>(
    t.admin,
    "GET",
    `/api/v1/devices?limit=3&after=${page1.data.next}`,
  );
  assert.ok(page2.data.items.every((d) => d.id > page1.data.items[2]!.id));
  await expectError(callApi(t.admin, "POST", "/api/v1/devices", { id: "pump-1" }), 409, "DEVICE_EXISTS");
  await expectError(callApi(t.admin, "POST", "/api/v1/devices", { id: "../etc/passwd" }), 400, "DEVICE_ID_INVALID");
  await expectError(callApi(t.admin, "GET", "/api/v1/devices?limit=0"), 400, "REQUEST_INVALID");
  await expectError(callApi(t.admin, "GET", "/api/v1/devices?colour=red"), 400, "REQUEST_INVALID");
});

test("malformed JSON is 400 REQUEST_MALFORMED_JSON; unknown fields are 400 REQUEST_INVALID with the path; nothing is stored", async () => {
  const headers = { authorization: `Bearer ${t.admin.token}`, "content-type": "application/json" };
  const malformed = await raw("POST", "/api/v1/devices", '{"id": "half', headers);
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error?.code, "REQUEST_MALFORMED_JSON");
  const extra = await callApi(t.admin, "POST", "/api/v1/devices", { id: "extra-1", owner: "eve" }).catch(
    (e: unknown) => e as ApiError,
  );
  assert.ok(
    extra instanceof ApiError &&
      extra.status === 400 &&
      extra.code === "REQUEST_INVALID" &&
      /owner|nrecognized/.test(extra.message),
    extra instanceof Error ? extra.message : "no error",
  );
  const wrongType = await raw("POST", "/api/v1/devices", "id=x", {
    ...headers,
    "content-type": "application/x-www-form-urlencoded",
  });
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.body.error?.code, "REQUEST_UNSUPPORTED_MEDIA_TYPE");
  await expectError(callApi(t.admin, "GET", "/api/v1/devices/extra-1"), 404, "DEVICE_NOT_FOUND");
});

test("an oversized body is 413 REQUEST_TOO_LARGE, never a 500", async () => {
  const big = JSON.stringify({ id: "big", profile: "x".repeat(2 * 1024 * 1024) });
  const headers = { authorization: `Bearer ${t.admin.token}`, "content-type": "application/json" };
  const response = await raw("POST", "/api/v1/devices", big, headers);
  assert.equal(response.status, 413);
  assert.equal(response.body.error?.code, "REQUEST_TOO_LARGE");
  const login = await raw("POST", "/api/v1/auth/login", big, { "content-type": "application/json" });
  assert.equal(login.status, 413);
});

test("unknown routes are 404 NOT_FOUND with an error body", async () => {
  await expectError(callApi(t.admin, "GET", "/api/v1/nothing-here"), 404, "NOT_FOUND");
});

test("status reports store, counts and services; metrics expose HTTP and signal counters", async () => {
  const status = await callApi<{ store: { engine: string; schemaVersion: number }; counts: { operators: number } }>(
    t.admin,
    "GET",
    "/api/v1/status",
  );
  assert.equal(status.data.store.engine, "sqlite");
  assert.ok(status.data.store.schemaVersion >= 2);
  assert.equal(status.data.counts.operators, 1);
  const metrics = await new Promise<string>((resolve, reject) => {
    request(new URL("/metrics", t.platform.url), { ca: t.platform.ca }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve(text));
    })
      .on("error", reject)
      .end();
  });
  assert.match(metrics, /vigil_http_requests_total\{method="GET",route="\/api\/v1\/status",status="200"\} \d+/);
  assert.match(metrics, /vigil_signals_total\{signal="auth.denied"\} \d+/);
  assert.match(metrics, /vigil_http_request_duration_seconds_bucket/);
});

test("secrets never reach the log: no password, no token", async () => {
  const lines = t.logLines.join("\n");
  assert.ok(lines.length > 0);
  assert.ok(!lines.includes(t.adminPassword));
  assert.ok(!lines.includes(t.admin.token!.split(".")[2]!));
});
