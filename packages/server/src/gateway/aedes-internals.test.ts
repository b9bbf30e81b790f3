import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { Aedes } from "aedes";
import type { AedesClientInternals } from "./session.js";

// The gateway hooks into three aedes 1.x internals (see Gateway#attach). If an aedes update
// moves them, this fails first, with a clear message, rather than the gate silently vanishing.
test("aedes still exposes the internals the gateway's gate, size check and bounded read loop use", async () => {
  const broker = await Aedes.createBroker();
  const stream = new Duplex({ read: () => undefined, write: (_chunk, _encoding, done) => done() });
  try {
    const client = broker.handle(stream) as AedesClientInternals;
    assert.equal(typeof client._nextBatch, "function", "client._nextBatch");
    assert.ok(stream.listeners("readable").includes(client._nextBatch), "the read loop is the socket's readable listener");
    assert.equal(typeof client._parsingBatch, "number", "client._parsingBatch");
    assert.equal(client._parser.listeners("packet").length, 1, "one packet listener on the parser");
    assert.equal(typeof client._parser._parseLength, "function", "parser._parseLength");
    assert.equal(typeof client._parser._emitError, "function", "parser._emitError");
    assert.equal(typeof client.subscriptions, "object", "client.subscriptions");
  } finally {
    stream.destroy();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
});
