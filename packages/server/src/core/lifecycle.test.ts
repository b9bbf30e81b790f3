import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { Lifecycle, type Service } from "./lifecycle.js";

function recorder(log: string[], name: string, failOnStart = false): Service {
  return {
    name,
    start: async () => {
      log.push(`start ${name}`);
      if (failOnStart) throw new Error(`${name} cannot start`);
    },
    stop: async () => {
      log.push(`stop ${name}`);
    },
  };
}

test("starts in order, is ready only when all started, stops in reverse", async () => {
  const log: string[] = [];
  const lc = new Lifecycle(pino({ level: "silent" }));
  for (const n of ["store", "bus", "api"]) lc.add(recorder(log, n));
  assert.equal(lc.ready(), false);
  await lc.startAll(new AbortController().signal);
  assert.equal(lc.ready(), true);
  await lc.stopAll();
  assert.deepEqual(log, ["start store", "start bus", "start api", "stop api", "stop bus", "stop store"]);
  assert.equal(lc.ready(), false);
});

test("a failing start stops what had started, in reverse, and rethrows", async () => {
  const log: string[] = [];
  const lc = new Lifecycle(pino({ level: "silent" }));
  lc.add(recorder(log, "store"));
  lc.add(recorder(log, "bus"));
  lc.add(recorder(log, "api", true));
  lc.add(recorder(log, "never"));
  await assert.rejects(lc.startAll(new AbortController().signal), /api cannot start/);
  assert.deepEqual(log, ["start store", "start bus", "start api", "stop api", "stop bus", "stop store"]);
  assert.equal(lc.states().find((s) => s.name === "never")?.state, "created");
});
