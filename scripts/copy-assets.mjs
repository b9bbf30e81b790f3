#!/usr/bin/env node
// tsc compiles TypeScript only; this copies the data files the server reads at run time
// (device profiles) from src/ to dist/, keeping their paths.
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
for (const dir of ["packages/server/src/policy/profiles"]) {
  const from = join(root, dir);
  if (!existsSync(from)) continue;
  cpSync(from, join(root, dir.replace("/src/", "/dist/")), { recursive: true });
}
