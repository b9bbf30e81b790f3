import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { routeTable, type RouteInfo } from "../src/api/index.js";
import { callApi } from "../src/cli/client.js";
import type { Principal } from "../src/operators/index.js";
import { firstLogin, startPlatform, type TestPlatform } from "./support.js";

/**
 * The authorization matrix: EVERY route of the running API x every role x site binding.
 * Routes are enumerated from the fastify instance itself, so a new route cannot escape:
 * a route missing from EXPECTED fails the test until someone decides who may use it.
 */

type Role = "admin" | "security-operator" | "fleet-operator" | "auditor" | "device-integrator";
const ROLES: Role[] = ["admin", "security-operator", "fleet-operator", "auditor", "device-integrator"];
const ALL = ROLES;
const STAFF: Role[] = ["admin", "security-operator", "fleet-operator", "auditor"];

/** Who may do what, written out by hand (independently of operators/permissions.ts). */
const WHO: Record<string, readonly Role[]> = {
  self: ALL,
  "status:read": STAFF,
  "devices:read": STAFF,
  "devices:write": ["admin", "security-operator", "fleet-operator"],
  "devices:revoke": ["admin", "security-operator", "fleet-operator"],
  "enrollment:read": STAFF,
  "enrollment:write": ["admin", "security-operator", "fleet-operator"],
  "manufacturers:write": ["admin"],
  "profiles:read": ALL,
  "profiles:write": ["admin", "device-integrator"],
  "firmware:read": ALL,
  "firmware:write": ["admin", "fleet-operator", "device-integrator"],
  "incidents:read": STAFF,
  "incidents:write": ["admin", "security-operator"],
  "audit:read": ["admin", "security-operator", "auditor"],
  "operators:read": ["admin", "auditor"],
  "operators:write": ["admin"],
  "keys:rotate": ["admin"],
};

/** Every route and the permission it must declare ("public": no authentication at all). */
const EXPECTED: Record<string, string> = {
  "GET /healthz": "public",
  "GET /readyz": "public",
  "GET /metrics": "public",
  "GET /api/v1/status": "status:read",
  "POST /api/v1/auth/login": "public",
  "POST /api/v1/auth/login/mfa": "public",
  "POST /api/v1/auth/webauthn/options": "public",
  "POST /api/v1/auth/login/webauthn": "public",
  "GET /api/v1/auth/whoami": "self",
  "POST /api/v1/auth/password": "self",
  "POST /api/v1/auth/logout": "self",
  "POST /api/v1/auth/tokens": "self",
  "GET /api/v1/auth/mfa": "self",
  "POST /api/v1/auth/mfa/totp": "self",
  "POST /api/v1/auth/mfa/totp/confirm": "self",
  "POST /api/v1/auth/mfa/recovery-codes": "self",
  "POST /api/v1/auth/mfa/webauthn/register/options": "self",
  "POST /api/v1/auth/mfa/webauthn/register": "self",
  "POST /api/v1/auth/session": "public",
  "POST /api/v1/auth/session/mfa": "public",
  "POST /api/v1/auth/session/webauthn": "public",
  "DELETE /api/v1/auth/session": "self",
  "GET /api/v1/operators": "operators:read",
  "POST /api/v1/operators": "operators:write",
  "POST /api/v1/operators/:username/disable": "operators:write",
  "POST /api/v1/operators/:username/enable": "operators:write",
  "POST /api/v1/operators/:username/reset-mfa": "operators:write",
  "POST /api/v1/keys/rotate": "keys:rotate",
  "GET /api/v1/devices": "devices:read",
  "GET /api/v1/devices/:id": "devices:read",
  "GET /api/v1/devices/:id/certificates": "devices:read",
  "POST /api/v1/devices": "devices:write",
  "POST /api/v1/devices/import": "devices:write",
  "POST /api/v1/devices/:id/revoke": "devices:revoke",
  "POST /api/v1/devices/:id/legacy-password": "devices:write",
  "GET /api/v1/devices/:id/trust": "incidents:read",
  "GET /api/v1/trust": "incidents:read",
  "GET /api/v1/incidents": "incidents:read",
  "GET /api/v1/incidents/measures": "incidents:read",
  "GET /api/v1/incidents/:id": "incidents:read",
  "POST /api/v1/incidents/:id/notes": "incidents:write",
  "POST /api/v1/incidents/:id/approve": "incidents:write",
  "POST /api/v1/incidents/:id/deny": "incidents:write",
  "POST /api/v1/incidents/:id/release": "incidents:write",
  "POST /api/v1/incidents/:id/readmit": "incidents:write",
  "POST /api/v1/incidents/:id/resolve": "incidents:write",
  "POST /api/v1/incidents/:id/close": "incidents:write",
  "GET /api/v1/playbooks": "incidents:read",
  "POST /api/v1/playbooks/validate": "incidents:read",
  "POST /api/v1/drills": "incidents:write",
  "GET /api/v1/drills": "incidents:read",
  "POST /api/v1/drills/:id/end": "incidents:write",
  "GET /.well-known/est/cacerts": "public",
  "GET /.well-known/est/csrattrs": "public",
  "POST /.well-known/est/simpleenroll": "public",
  "POST /.well-known/est/simplereenroll": "public",
  "GET /pki/crl": "public",
  "GET /pki/ca.pem": "public",
  "GET /api/v1/manufacturers": "enrollment:read",
  "POST /api/v1/manufacturers": "manufacturers:write",
  "POST /api/v1/manufacturers/:id/revoke": "manufacturers:write",
  "GET /api/v1/enrollment-tokens": "enrollment:read",
  "POST /api/v1/enrollment-tokens": "enrollment:write",
  "GET /api/v1/ca": "enrollment:read",
  "GET /api/v1/audit": "audit:read",
  "POST /api/v1/sboms": "firmware:write",
  "GET /api/v1/sboms": "audit:read",
  "POST /api/v1/advisories/import": "firmware:write",
  "GET /api/v1/advisories": "audit:read",
  "POST /api/v1/vex": "firmware:write",
  "POST /api/v1/vulnerabilities/scan": "audit:read",
  "GET /api/v1/vulnerabilities": "audit:read",
  "POST /api/v1/audit-checks/run": "audit:read",
  "GET /api/v1/audit-checks": "audit:read",
  "GET /api/v1/reports/compliance": "audit:read",
  "GET /api/v1/ota/keys": "firmware:read",
  "POST /api/v1/ota/keys": "keys:rotate",
  "POST /api/v1/ota/keys/rotate": "keys:rotate",
  "POST /api/v1/ota/artifacts": "firmware:write",
  "GET /api/v1/ota/artifacts": "firmware:read",
  "GET /api/v1/ota/artifacts/:name": "firmware:read",
  "POST /api/v1/ota/campaigns": "firmware:write",
  "GET /api/v1/ota/campaigns": "firmware:read",
  "GET /api/v1/ota/campaigns/:id": "firmware:read",
  "GET /api/v1/ota/campaigns/:id/devices": "firmware:read",
  "POST /api/v1/ota/campaigns/:id/start": "firmware:write",
  "POST /api/v1/ota/campaigns/:id/pause": "firmware:write",
  "POST /api/v1/ota/campaigns/:id/resume": "firmware:write",
  "POST /api/v1/ota/campaigns/:id/cancel": "firmware:write",
  "POST /api/v1/ota/campaigns/:id/rollback": "firmware:write",
  "GET /ota/v1/root/:version": "public",
  "GET /ota/v1/metadata": "public",
  "GET /ota/v1/images/:name": "public",
  "GET /api/v1/events/stream": "incidents:read",
  "GET /api/v1/profiles": "profiles:read",
  "GET /api/v1/detections": "incidents:read",
  "GET /api/v1/gateway/sessions": "devices:read",
  "GET /api/v1/network/assets": "devices:read",
  "GET /": "public",
  "GET /console": "public",
  "GET /console/*": "public",
};

/** Routes that address one device: the site binding must hide other sites' devices (404). */
const DEVICE_ROUTE = /^\/api\/v1\/devices\/:id/;

interface Operator {
  role: Role;
  sites: string[];
  principal: Principal;
}

let t: TestPlatform;
let routes: readonly RouteInfo[];
const operators: Operator[] = [];

before(async () => {
  t = await startPlatform();
  for (const role of ROLES) {
    for (const sites of [["*"], ["north"]]) {
      const username = `${role}-${sites[0] === "*" ? "all" : "north"}`;
      const created = await callApi<{ oneTimePassword: string }>(t.admin, "POST", "/api/v1/operators", { username, role, sites });
      const { token } = await firstLogin(t.anonymous, {
        username,
        oneTimePassword: created.data.oneTimePassword,
        newPassword: `${username} long passphrase`,
        now: () => t.clock.now(),
      });
      operators.push({ role, sites, principal: await t.platform.operators.authenticate(token) });
    }
  }
  await callApi(t.admin, "POST", "/api/v1/devices", { id: "north-1", site: "north" });
  await callApi(t.admin, "POST", "/api/v1/devices", { id: "south-1", site: "south" });
  routes = routeTable(t.platform.http).filter((r) => !r.url.startsWith("/docs"));
});

after(async () => {
  await t.stop();
});

const key = (r: RouteInfo) => `${r.method} ${r.url}`;

function urlOf(route: RouteInfo): string {
  return route.url.replace(/:(\w+)/g, (_m, name: string) =>
    name === "id" && DEVICE_ROUTE.test(route.url) ? "south-1" : "nonexistent",
  );
}

async function call(route: RouteInfo, token: string | undefined): Promise<{ status: number; code: string | undefined }> {
  const hasBody = !["GET", "HEAD", "OPTIONS"].includes(route.method);
  const response = await t.platform.http.inject({
    method: route.method as "GET",
    url: urlOf(route),
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(hasBody ? { "content-type": "application/json" } : {}),
    },
    // An invalid body: a route that lets the caller in answers 400, and changes nothing. A
    // device's own routes get a valid one, so that the site check behind validation is reached.
    ...(hasBody ? { payload: DEVICE_ROUTE.test(route.url) ? "{}" : JSON.stringify({ "matrix-probe": true }) } : {}),
  });
  let code: string | undefined;
  try {
    code = (JSON.parse(response.body) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: response.statusCode, code };
}

test("every registered route is in the matrix with the permission it declares (no route escapes it)", () => {
  assert.ok(routes.length >= 40, `only ${routes.length} routes enumerated`);
  const unknown = routes.filter((r) => EXPECTED[key(r)] === undefined).map(key);
  assert.deepEqual(unknown, [], "routes missing from the authorization matrix: decide who may use them and add them");
  for (const r of routes) {
    const expected = EXPECTED[key(r)];
    assert.equal(r.public ? "public" : (r.permission ?? "(none: refused to all)"), expected, key(r));
    if (expected !== "public") assert.ok(WHO[expected!], `${key(r)}: unknown permission ${expected}`);
  }
});

test("anonymous: every non-public route answers 401 AUTH_REQUIRED; public routes never ask for a token", async () => {
  for (const r of routes) {
    const { status, code } = await call(r, undefined);
    if (r.public) assert.notEqual(code, "AUTH_REQUIRED", key(r));
    else assert.deepEqual([status, code], [401, "AUTH_REQUIRED"], key(r));
  }
});

test("every route x role x site: allowed exactly where the table says, and another site's device is 404", async () => {
  const denials = new Set(["AUTH_PERMISSION_DENIED", "AUTH_SCOPE_MISSING", "AUTH_REQUIRED", "AUTH_TOKEN_INVALID"]);
  let checked = 0;
  for (const r of routes.filter((x) => !x.public)) {
    const allowedRoles = WHO[EXPECTED[key(r)]!]!;
    for (const op of operators) {
      // A fresh token for every request (logout and the like revoke the one they are called with).
      const { token } = await t.platform.operators.createToken(op.principal, {});
      const { status, code } = await call(r, token);
      const who = `${key(r)} as ${op.role}@${op.sites.join(",")}`;
      if (!allowedRoles.includes(op.role)) {
        assert.deepEqual([status, code], [403, "AUTH_PERMISSION_DENIED"], `${who}: unintended allow`);
      } else {
        assert.ok(!denials.has(code ?? ""), `${who}: refused with ${status} ${code}`);
        if (DEVICE_ROUTE.test(r.url) && !op.sites.includes("*")) {
          assert.equal(status, 404, `${who}: a device of another site must be invisible (got ${status} ${code})`);
        } else {
          assert.notEqual(code, "DEVICE_NOT_FOUND", `${who}: an all-sites operator sees every site`);
        }
      }
      checked++;
    }
  }
  assert.ok(checked >= 400, `${checked} combinations checked`);
});

test("device lists are filtered by site; a device is registered only into the operator's sites", async () => {
  for (const op of operators.filter((o) => WHO["devices:read"]!.includes(o.role))) {
    const { token } = await t.platform.operators.createToken(op.principal, {});
    const response = await t.platform.http.inject({
      method: "GET",
      url: "/api/v1/devices",
      headers: { authorization: `Bearer ${token}` },
    });
    const ids = (JSON.parse(response.body) as { items: { id: string }[] }).items.map((d) => d.id).sort();
    assert.deepEqual(ids, op.sites.includes("*") ? ["north-1", "south-1"] : ["north-1"], `${op.role}@${op.sites.join(",")}`);
  }
  const north = operators.find((o) => o.role === "fleet-operator" && o.sites[0] === "north")!;
  const { token } = await t.platform.operators.createToken(north.principal, {});
  const into = (site?: string) =>
    t.platform.http.inject({
      method: "POST",
      url: "/api/v1/devices",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      payload: JSON.stringify({ id: `fleet-${site ?? "implicit"}`, ...(site ? { site } : {}) }),
    });
  assert.equal((await into("south")).statusCode, 403);
  const implicit = await into();
  assert.equal(implicit.statusCode, 201, implicit.body);
  assert.equal((JSON.parse(implicit.body) as { site: string }).site, "north", "an operator's only site is the default");
});
