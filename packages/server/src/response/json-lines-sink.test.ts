import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRootLogger } from "../core/index.js";
import { JsonLinesSink } from "./json-lines-sink.js";
import type { OutgoingEvent } from "./outgoing-event.js";

test("SIEM export: one JSON object per line, in order, file mode 0600", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-jsonl-"));
  try {
    const file = join(dir, "events.jsonl");
    const sink = new JsonLinesSink(file, createRootLogger({ level: "silent" }));
    const event = (n: number): OutgoingEvent => ({
      schema: "vigil.response.v1",
      id: `e${n}`,
      type: "incident.action",
      at: "2026-01-01T00:00:00.000Z",
      incident: {
        id: "inc-1",
        device: "cam-1",
        state: "contained",
        severity: "high",
        rules: [],
        categories: [],
        openedAt: "2026-01-01T00:00:00.000Z",
      },
      detail: { action: "quarantine" },
    });
    for (let i = 0; i < 3; i++) sink.send(event(i));
    await sink.drain();
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as OutgoingEvent).id),
      ["e0", "e1", "e2"],
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
