#!/usr/bin/env node
// `npm run test:long`: the long versions of the reliability tests (packages/server/test/reliability/),
// one file after the other so that they do not disturb each other's measurements:
//   crash loop  VIGIL_CRASH_ITERATIONS=300 kill -9 iterations under load
//   fuzzing     VIGIL_FUZZ_CASES=2,000,000 parser cases (CSR, pcap/pcapng, SBOM, OSV, OTA metadata),
//               VIGIL_FUZZ_MQTT_CASES=100,000 MQTT cases, VIGIL_FUZZ_API_CASES=500,000 API cases
//   soak        5,000 devices for 1 hour (VIGIL_SOAK_*), memory flat within 10 % after a 10 min warm-up
// Every setting can be overridden from the environment; `npm run test:long -- soak` runs only the
// files whose name contains "soak". Figures (JSON) and the soak's memory chart (SVG) are written to
// VIGIL_RELIABILITY_OUT (default docs/reliability/); docs/reliability.md quotes them.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = join(root, "packages/server/test/reliability");
const defaults = {
  VIGIL_CRASH_ITERATIONS: "300",
  VIGIL_FUZZ_CASES: "2000000",
  VIGIL_FUZZ_MQTT_CASES: "100000",
  VIGIL_FUZZ_API_CASES: "500000",
  VIGIL_SOAK_DEVICES: "5000",
  VIGIL_SOAK_SECONDS: "3600",
  VIGIL_SOAK_SAMPLE_SECONDS: "30",
  VIGIL_SOAK_WARMUP_SECONDS: "600",
  VIGIL_RELIABILITY_OUT: join(root, "docs/reliability"),
};
const env = { ...defaults, ...process.env, NODE_NO_WARNINGS: "1" };
mkdirSync(env.VIGIL_RELIABILITY_OUT, { recursive: true });
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".test.ts") && (filters.length === 0 || filters.some((p) => f.includes(p))))
  .sort();
let failed = 0;
for (const file of files) {
  process.stderr.write(`\n== ${file} ==\n`);
  const result = spawnSync(
    process.execPath,
    ["--conditions=vigil-source", "--import", "tsx", "--test", "--test-concurrency=1", join(dir, file)],
    { cwd: root, stdio: "inherit", env },
  );
  if (result.status !== 0) failed++;
}
process.stderr.write(
  `\n${files.length - failed} of ${files.length} long reliability files passed; figures in ${env.VIGIL_RELIABILITY_OUT}\n`,
);
process.exit(failed === 0 ? 0 : 1);
