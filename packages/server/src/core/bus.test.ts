import assert from "node:assert/strict";
import { test } from "node:test";
import { InProcessBus } from "./bus.js";

type M = { "a.happened": { n: number }; "b.happened": { s: string } };

test("delivers typed signals to subscribers in order, and to onAny", () => {
  const bus = new InProcessBus<M>();
  const seen: string[] = [];
  bus.on("a.happened", (p) => seen.push(`first ${p.n}`));
  bus.on("a.happened", (p) => seen.push(`second ${p.n}`));
  bus.onAny((name) => seen.push(`any ${name}`));
  bus.emit("a.happened", { n: 1 });
  bus.emit("b.happened", { s: "x" });
  assert.deepEqual(seen, ["first 1", "second 1", "any a.happened", "any b.happened"]);
});

test("a throwing subscriber does not stop delivery to the others", () => {
  const bus = new InProcessBus<M>();
  const seen: number[] = [];
  bus.on("a.happened", () => {
    throw new Error("faulty subscriber");
  });
  bus.on("a.happened", (p) => seen.push(p.n));
  bus.emit("a.happened", { n: 7 });
  assert.deepEqual(seen, [7]);
});

test("unsubscribing during delivery neither skips nor repeats others", () => {
  const bus = new InProcessBus<M>();
  const seen: string[] = [];
  const off = bus.on("a.happened", () => {
    seen.push("once");
    off();
  });
  bus.on("a.happened", () => seen.push("always"));
  bus.emit("a.happened", { n: 1 });
  bus.emit("a.happened", { n: 2 });
  assert.deepEqual(seen, ["once", "always", "always"]);
});
