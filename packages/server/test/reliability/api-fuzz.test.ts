import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isErrorCode } from "@vigil/contract";
import { callApi } from "../../src/cli/client.js";
import { opensslCsr } from "../est-support.js";
import { tempDir } from "../support.js";
import { launchDaemon, type Daemon } from "./daemon-fixture.js";
import {
  FuzzMemoryCurve,
  Rng,
  caseIndices,
  envCount,
  fuzzFailure,
  jsonText,
  mutateBytes,
  mutateJson,
  runSeed,
  writeFuzzFigures,
} from "./fuzz-support.js";

// Mutation fuzzing of every route of the HTTP API that takes a body (POST/PUT/PATCH), read
// from the running daemon's own OpenAPI document, plus the EST routes with mutated CSRs.
// Each case starts from a body that satisfies the route's schema and mutates it
// structurally (hostile values, dropped/added members, deep nesting, huge arrays) or as
// bytes (malformed JSON), sometimes with a wrong content type. The daemon runs in its own
// process. Every answer must come within REQUEST_BOUND_MS and be either a success or a 4xx
// with a stable error code from the catalogue: a 5xx, a non-catalogue code or a dead
// daemon fails the case (seed and input printed). RSS is bounded across the run.

const cases = envCount("VIGIL_FUZZ_API_CASES", 4_000);
const seed = runSeed();
const CONCURRENCY = 12;
const REQUEST_BOUND_MS = 15_000;
const dir = tempDir("vigil-api-fuzz-");
let daemon: Daemon;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/**
 * Routes left out, and why: they act on the fuzzer's own admin session (log out, change its
 * password or second factor), which would end the run rather than test the input handling.
 */
const SELF_HARM = [/^\/api\/v1\/auth\/(logout|password|mfa|webauthn|sessions|tokens)/];

before(async () => {
  daemon = await launchDaemon({ dataDir: join(dir.path, "data") });
});
after(async () => {
  agent.destroy();
  await daemon?.stop();
  dir.remove();
});

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  format?: string;
  pattern?: string;
  default?: unknown;
  $ref?: string;
}

interface Route {
  method: string;
  path: string;
  contentType: string | undefined;
  schema: Schema | undefined;
}

/** A value that satisfies the schema as far as a simple reading of it goes (a valid starting point). */
function example(schema: Schema | undefined, depth = 0): unknown {
  if (schema === undefined || depth > 8) return null;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt !== undefined) return example(alt.find((s) => s.type !== "null") ?? alt[0], depth + 1);
  if (schema.allOf !== undefined) return Object.assign({}, ...schema.allOf.map((s) => example(s, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = example(v, depth + 1);
      return out;
    }
    case "array":
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => example(schema.items, depth + 1));
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return true;
    case "string": {
      if (schema.format === "date-time") return new Date().toISOString();
      if (schema.format === "email") return "fuzz@example.com";
      if (schema.format === "uri") return "https://example.com/hook";
      const len = Math.max(schema.minLength ?? 0, Math.min(8, schema.maxLength ?? 8));
      return "fuzz-abc-xyz-012345".slice(0, len).padEnd(len, "x");
    }
    default:
      return null;
  }
}

async function routes(): Promise<Route[]> {
  const { data } = await callApi<{
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>>;
  }>(daemon.anonymous, "GET", "/docs/json");
  const out: Route[] = [];
  for (const [path, methods] of Object.entries(data.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!["post", "put", "patch"].includes(method)) continue;
      if (SELF_HARM.some((r) => r.test(path))) continue;
      const content = op.requestBody?.content ?? {};
      const contentType = Object.keys(content)[0];
      out.push({
        method: method.toUpperCase(),
        path,
        contentType,
        schema: contentType ? content[contentType]?.schema : undefined,
      });
    }
  }
  return out;
}

function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; text: string } | "timeout"> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, daemon.anonymous.url);
    const req = request(
      url,
      {
        method,
        agent,
        ca: daemon.anonymous.ca,
        servername: "",
        headers: { ...headers, "content-length": String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      resolve("timeout");
    }, REQUEST_BOUND_MS);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}

/** A path with its parameters filled: a plausible id, or a hostile one. */
function fillPath(rng: Rng, path: string): string {
  return path.replace(/\{[^}]+\}/g, () =>
    encodeURIComponent(
      rng.chance(0.8)
        ? `fuzz-${rng.int(50)}`
        : mutateBytes(rng, Buffer.from("fuzz-device-0001"), [], 512).toString("latin1") || "x",
    ),
  );
}

test(`fuzz: every API route with a body answers bad input with a 4xx and a catalogue code; no 5xx, no hang, memory bounded (${cases} cases, seed ${seed})`, async () => {
  const all = await routes();
  assert.ok(all.length >= 20, `routes with a body read from /docs/json: ${all.length}`);
  const csrs = await Promise.all(["a", "b"].map(async (n) => readFileSync((await opensslCsr(dir.path, n, `est-fuzz-${n}`)).der)));
  const statuses: Record<string, number> = {};
  const perRoute: Record<string, number> = {};
  const indices = caseIndices(cases);
  const warmupAt = Math.min(300, Math.floor(indices.length / 4));
  let rssWarm: number | undefined;
  const memory = new FuzzMemoryCurve(daemon, cases);
  let next = 0;
  let done = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (failure === undefined && next < indices.length) {
      const i = indices[next++] as number;
      const rng = Rng.forCase(seed, i, "api");
      const route = rng.pick(all);
      const path = fillPath(rng, route.path);
      const headers: Record<string, string> = { accept: "application/json" };
      if (!route.path.startsWith("/.well-known/est") || rng.chance(0.2)) headers.authorization = `Bearer ${daemon.admin.token}`;
      let body: Buffer;
      let type = route.contentType ?? "application/json";
      if (type.includes("json")) {
        const base = example(route.schema);
        body = rng.chance(0.65) ? jsonText(mutateJson(rng, base), 256 * 1024) : mutateBytes(rng, jsonText(base), [], 64 * 1024);
      } else if (type.includes("pkcs10") || route.path.startsWith("/.well-known/est")) {
        const der = mutateBytes(rng, rng.pick(csrs), csrs, 8 * 1024);
        body = rng.chance(0.7) ? Buffer.from(der.toString("base64")) : der;
        type = "application/pkcs10";
      } else {
        body = rng.bytes(rng.int(4096));
      }
      if (rng.chance(0.05))
        type = rng.pick(["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json; charset=utf-7"]);
      if (rng.chance(0.03)) body = Buffer.alloc(0);
      headers["content-type"] = type;
      let answer: Awaited<ReturnType<typeof send>>;
      try {
        answer = await send(route.method, path, headers, body);
      } catch (error) {
        failure = fuzzFailure(
          "api-fuzz",
          seed,
          i,
          body,
          `${route.method} ${path}: connection failed: ${(error as Error).message}`,
        );
        return;
      }
      if (answer === "timeout") {
        failure = fuzzFailure("api-fuzz", seed, i, body, `${route.method} ${path}: no answer within ${REQUEST_BOUND_MS} ms`);
        return;
      }
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      perRoute[`${route.method} ${route.path}`] = (perRoute[`${route.method} ${route.path}`] ?? 0) + 1;
      if (answer.status >= 500 || answer.status < 200) {
        failure = fuzzFailure(
          "api-fuzz",
          seed,
          i,
          body,
          `${route.method} ${path} (${type}) answered ${answer.status}: ${answer.text.slice(0, 500)}`,
        );
        return;
      }
      if (answer.status >= 400) {
        let code: unknown;
        try {
          code = (JSON.parse(answer.text) as { error?: { code?: unknown } }).error?.code;
        } catch {
          code = undefined;
        }
        if (!isErrorCode(code)) {
          failure = fuzzFailure(
            "api-fuzz",
            seed,
            i,
            body,
            `${route.method} ${path} answered ${answer.status} without a catalogue code: ${answer.text.slice(0, 300)}`,
          );
          return;
        }
      }
      done++;
      if (done === warmupAt) rssWarm = daemon.rssKiB();
      memory.note(done);
      if (done % 500 === 0 && !(await daemon.healthy(10_000))) {
        failure = fuzzFailure("api-fuzz", seed, i, body, "the daemon died or /healthz did not answer within 10 s");
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (failure) throw failure;
  assert.ok(await daemon.healthy(10_000), "the daemon is alive and healthy after the run");
  const rssEnd = daemon.rssKiB() as number;
  const figures = {
    seed,
    cases: done,
    routes: all.length,
    statuses,
    rssWarmKiB: rssWarm,
    rssEndKiB: rssEnd,
    memory: await memory.samples(),
    perRoute,
  };
  process.stdout.write(`api-fuzz figures: ${JSON.stringify({ ...figures, perRoute: undefined })}\n`);
  writeFuzzFigures("api-fuzz", "API", figures, warmupAt);
  assert.ok(
    Object.keys(statuses).some((s) => s.startsWith("4")),
    "bad input was refused",
  );
  if (rssWarm !== undefined) assert.ok(rssEnd < rssWarm * 1.5 + 64 * 1024, `RSS grew from ${rssWarm} KiB to ${rssEnd} KiB`);
});
