import assert from "node:assert/strict";
import { test } from "node:test";
import { FilterTrie } from "./filter-trie.js";

function trie(...filters: string[]): FilterTrie<string> {
  const t = new FilterTrie<string>();
  for (const f of filters) t.insert(f.split("/"), f);
  return t;
}

const covering = (t: FilterTrie<string>, filter: string) => t.covering(filter.split("/"));

test("a/# covers its whole subtree and a itself [MQTT-4.7.1-2]", () => {
  const t = trie("devices/d1/config/#");
  for (const f of [
    "devices/d1/config/#",
    "devices/d1/config/+",
    "devices/d1/config",
    "devices/d1/config/a/b",
    "devices/d1/config/+/x/#",
  ]) {
    assert.equal(covering(t, f), "devices/d1/config/#", f);
  }
  for (const f of [
    "devices/+/config/#",
    "devices/d1/#",
    "devices/d1/+",
    "devices/d1",
    "#",
    "+/d1/config/#",
    "devices/d1/configx",
  ]) {
    assert.equal(covering(t, f), undefined, f);
  }
});

test("+ covers + and any literal, never #", () => {
  const t = trie("a/+/c");
  assert.equal(covering(t, "a/+/c"), "a/+/c");
  assert.equal(covering(t, "a/b/c"), "a/+/c");
  assert.equal(covering(t, "a/#"), undefined);
  assert.equal(covering(t, "a/+/#"), undefined, "a/+/# also matches a/x (one level less)");
  assert.equal(covering(t, "a/+/c/d"), undefined);
  assert.equal(covering(t, "a/+"), undefined);
});

test("a/+/# does not cover a/# (which also matches a)", () => {
  const t = trie("a/+/#");
  assert.equal(covering(t, "a/x"), "a/+/#");
  assert.equal(covering(t, "a/x/y/z"), "a/+/#");
  assert.equal(covering(t, "a/+/#"), "a/+/#");
  assert.equal(covering(t, "a/#"), undefined);
  assert.equal(covering(t, "a"), undefined);
});

test("backtracks from a literal branch to a + branch", () => {
  const t = trie("a/b/c", "a/+/d");
  assert.equal(covering(t, "a/b/d"), "a/+/d");
  assert.equal(covering(t, "a/b/c"), "a/b/c");
  assert.equal(covering(t, "a/+/c"), undefined, "a/+/c reaches a/x/c, which neither covers");
});

test("a subset of the union but of no single filter is not covered (sound, conservative)", () => {
  const t = trie("a", "a/+/#");
  assert.equal(covering(t, "a/#"), undefined);
});
