// The soak's fleet, in its own process (so that the daemon's memory is the daemon's alone):
// `node --conditions=vigil-source --import tsx soak-fleet.ts <json options>`. Enrolls and
// connects the devices through the simulator (EST + mutual-TLS MQTT via the device SDK), runs
// them for the duration, and reports JSON lines on stdout: {"type":"ready"|"stats"|"done", ...}.
import { readFileSync } from "node:fs";
import { callApi } from "../../src/cli/client.js";
import { Fleet, TOKENS_PER_REQUEST, isMixName, type SimTarget } from "../../src/simulator/index.js";

interface Options {
  url: string;
  caFile: string;
  token: string;
  mqttUrl: string;
  devices: number;
  durationMs: number;
  workDir: string;
  seed: number;
  mix: string;
}

const o = JSON.parse(process.argv[2] ?? "{}") as Options;
const caPem = readFileSync(o.caFile, "utf8");
const api = { url: o.url, ca: caPem, token: o.token };
const target: SimTarget = {
  apiUrl: o.url,
  caPem,
  mqttUrl: o.mqttUrl,
  async createTokens(profile, count) {
    const tokens: string[] = [];
    for (let left = count; left > 0; left -= TOKENS_PER_REQUEST) {
      const { data } = await callApi<{ tokens: string[] }>(api, "POST", "/api/v1/enrollment-tokens", {
        profile,
        ttlSeconds: 3_600,
        count: Math.min(left, TOKENS_PER_REQUEST),
      });
      tokens.push(...data.tokens);
    }
    return tokens;
  },
};
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
if (!isMixName(o.mix)) throw new Error(`unknown mix ${o.mix}`);
const fleet = new Fleet({
  target,
  workDir: o.workDir,
  seed: o.seed,
  prefix: "soak",
  concurrency: 16,
  oddities: { reboot: 0, blip: 0 },
});
const started = Date.now();
await fleet.start(o.devices, o.mix);
say({ type: "ready", enrollMs: Date.now() - started, stats: fleet.stats() });
const timer = setInterval(() => say({ type: "stats", stats: fleet.stats() }), 5_000);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  say({ type: "done", stats: fleet.stats() });
  await fleet.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
setTimeout(() => void stop(), o.durationMs);
