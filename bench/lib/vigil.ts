import { join } from "node:path";
import { Platform, loadConfig } from "../../packages/server/src/app/index.js";
import { createRootLogger } from "../../packages/server/src/core/index.js";

/**
 * A real Vigil for a benchmark: fresh data dir under `tmp`, API on a free loopback port, logs
 * at error level, no process metrics; `flags` adds or overrides settings (e.g. mqtt-enabled).
 */
export async function startBenchVigil(tmp: string, flags: Record<string, string> = {}): Promise<Platform> {
  const config = await loadConfig({
    env: {},
    cwd: tmp,
    flags: { "data-dir": join(tmp, "data"), "http-port": "0", "log-level": "error", ...flags },
  });
  const platform = new Platform({ config, log: createRootLogger({ level: "error" }), processMetrics: false });
  await platform.start();
  return platform;
}
