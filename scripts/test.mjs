#!/usr/bin/env node
// Runs every test in the workspace with Node's test runner, TypeScript loaded by tsx and
// workspace packages resolved to their sources. `npm test -- store` runs only the test files
// whose path contains "store". Heavy end-to-end files (SOLO below) run last, one at a time.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith("-"));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const files = walk(join(root, "packages"), [])
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(", ")}`);
  process.exit(1);
}
// End-to-end files that run whole fleets, clusters of child processes or kill -9 loops against
// real services: they run after the rest, one at a time, so that another heavy file running
// beside them on a 2-core machine does not starve their devices (their assertions are about
// behaviour, not time, but a device that cannot send in time is not detected in time).
const SOLO = ["test/attack-matrix.test.ts", "test/cluster.test.ts", "test/reliability/"];
const solo = files.filter((f) => SOLO.some((s) => f.includes(s)));
const shared = files.filter((f) => !solo.includes(f));

function run(list, concurrency) {
  if (list.length === 0) return 0;
  const result = spawnSync(
    process.execPath,
    ["--conditions=vigil-source", "--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...passThrough, ...list],
    { cwd: root, stdio: "inherit", env: { ...process.env, NODE_NO_WARNINGS: "1" } },
  );
  return result.status ?? 1;
}

const status = run(shared, 2);
const soloStatus = run(solo, 1);
process.exit(status !== 0 ? status : soloStatus);
