// Benchmark `paho` (an interoperability run, not a speed test): the Eclipse Paho MQTT 3.1.1
// client tests (eclipse/paho.mqtt.testing, `interoperability/client_test.py`) against Vigil's
// gateway in its `insecureTesting` configuration (plain TCP on loopback, permissive policy)
// and, in the same run, against bare aedes, for comparison. The suite is fetched code: it is
// never in this repository; it is read from $PAHO_DIR or ~/.cache/vigil/paho/interoperability.
import { Aedes } from "aedes";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { InProcessBus, createRootLogger, moduleLogger, systemClock } from "../packages/server/src/core/index.js";
import { Gateway } from "../packages/server/src/gateway/index.js";
import type { CertificateAuthority, CertificateRepository, DeviceRepository } from "../packages/server/src/identity/index.js";
import type { SignalMap } from "../packages/server/src/signals/index.js";
import { UsageError, type BenchOptions, type BenchOutput } from "./lib/benchmark.js";

export const title =
  "MQTT 3.1.1 interoperability: Eclipse Paho client tests, Vigil gateway (permissive testing mode) vs bare aedes";

export const about = `Not a speed test: the Eclipse Paho MQTT 3.1.1 interoperability client tests (public repository
[eclipse/paho.mqtt.testing](https://github.com/eclipse/paho.mqtt.testing), \`interoperability/client_test.py\`, Python
standard library only) run once against each broker, in the same run, on a loopback port:

- **Vigil**: the gateway in its \`insecureTesting\` configuration (plain TCP, refused off loopback; anonymous clients; a
  permissive policy: every topic but \`$\`-topics, SUBACK 0x80 for \`test/nosubscribe\`). The read loop, packet-size
  check and per-PUBLISH gate stay in place. This mode exists only as a \`Gateway\` option, never in the configuration.
- **aedes**: \`aedes\` 1.2 with no hooks but one \`authorizeSubscribe\` that refuses \`test/nosubscribe\` (what the
  suite expects of a broker).

The suite is not in this repository: \`bench/paho.ts\` reads it from \`$PAHO_DIR\` (the \`interoperability\` folder) or
\`~/.cache/vigil/paho/interoperability\`, and exits 2 with instructions when it is absent. Figures: \`vigil_passed\`,
\`vigil_failed\`, \`aedes_passed\`, \`aedes_failed\`, and one row per test (\`<broker>_ok_<test>\`: 1 passed, 0 failed or
errored).

Known failures, both deliberate or inherited: \`test_zero_length_clientid\` fails on both (aedes accepts an empty client id
with CleanSession=0, where [MQTT-3.1.3-8] requires CONNACK 0x02); \`test_dollar_topics\` fails on Vigil only, because
the gateway refuses a PUBLISH to a \`$\` topic and closes the connection ([MQTT-3.3.5-2]), which the suite itself says
a server may do ("this test will not work and should be omitted in that case").`;

export function budgetSeconds(): number {
  return 300;
}

/** Filters the suite expects a broker to refuse (SUBACK 0x80). */
const DENY_SUBSCRIBE = ["test/nosubscribe"];
const SUITE_TIMEOUT_MS = 120_000;

/** Runs `client_test.Test` with the port set in the module, and prints one JSON line of outcomes. */
const WRAPPER = `
import sys, json, unittest, logging
suite_dir, port = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, suite_dir)
import client_test
client_test.host = "127.0.0.1"
client_test.port = port
# What client_test.py's __main__ block sets before unittest.main():
client_test.topics = ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")
client_test.wildtopics = ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")
client_test.nosubscribe_topics = ("test/nosubscribe",)
logging.disable(logging.CRITICAL)
outcomes = {}
class Recorder(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test); outcomes[test._testMethodName] = "passed"
    def addFailure(self, test, err):
        super().addFailure(test, err); outcomes[test._testMethodName] = "failed"
    def addError(self, test, err):
        super().addError(test, err); outcomes[getattr(test, "_testMethodName", str(test))] = "error"
    def addSkip(self, test, reason):
        super().addSkip(test, reason); outcomes[test._testMethodName] = "skipped"
suite = unittest.defaultTestLoader.loadTestsFromModule(client_test)
unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=Recorder).run(suite)
print("PAHO_RESULT " + json.dumps(outcomes))
`;

export function suiteDir(): string | undefined {
  const candidates = [
    process.env.PAHO_DIR,
    process.env.PAHO_DIR === undefined ? undefined : join(process.env.PAHO_DIR, "interoperability"),
    join(homedir(), ".cache", "vigil", "paho", "interoperability"),
  ];
  return candidates.find((dir) => dir !== undefined && existsSync(join(dir, "client_test.py")));
}

const HOW_TO_PROVIDE = `The Eclipse Paho interoperability suite was not found.
Provide it (it is never committed here):
  git clone --depth 1 https://github.com/eclipse/paho.mqtt.testing ~/.cache/vigil/paho
or point PAHO_DIR at a checkout's interoperability/ folder:
  PAHO_DIR=/path/to/paho.mqtt.testing/interoperability npm run bench -- paho`;

type Outcomes = Record<string, "passed" | "failed" | "error" | "skipped">;

async function runSuite(dir: string, script: string, port: number, signal: AbortSignal): Promise<Outcomes> {
  const child = spawn("python3", [script, dir, String(port)], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const abort = () => child.kill("SIGKILL");
  signal.addEventListener("abort", abort, { once: true });
  const timer = setTimeout(abort, SUITE_TIMEOUT_MS);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    const line = out.split("\n").find((l) => l.startsWith("PAHO_RESULT "));
    if (line === undefined) throw new Error(`the Paho suite printed no result (exit ${code}):\n${err.slice(-2000)}`);
    return JSON.parse(line.slice("PAHO_RESULT ".length)) as Outcomes;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", abort);
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Bare aedes over plain TCP, refusing only the filter the suite expects refused. */
async function startAedes(): Promise<{ port: number; stop: () => Promise<void> }> {
  const broker = await Aedes.createBroker({
    authorizeSubscribe: (_client, sub, done) => done(null, DENY_SUBSCRIBE.includes(sub.topic) ? null : sub),
  });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  const port = await listen(server);
  return {
    port,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** The gateway in its permissive testing mode: none of the identity ports is used. */
async function startVigil(): Promise<{ gateway: Gateway; stop: () => Promise<void> }> {
  const log = createRootLogger({ level: "silent" });
  const unused = new Proxy(
    {},
    {
      get: (_t, key) => {
        throw new Error(`insecureTesting gateway used an identity port (${String(key)})`);
      },
    },
  );
  const gateway = new Gateway({
    settings: {
      host: "127.0.0.1",
      port: 0,
      handshakeTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      maxConnectionsPerSource: 10_000,
      throttleDropsBeforeDisconnect: 1000,
    },
    ca: unused as CertificateAuthority,
    devices: unused as DeviceRepository,
    certificates: unused as CertificateRepository,
    bus: new InProcessBus<SignalMap>(moduleLogger(log, "signals")),
    clock: systemClock,
    log: moduleLogger(log, "gateway"),
    profiles: () => undefined,
    insecureTesting: { plain: true, denySubscribe: DENY_SUBSCRIBE },
  });
  await gateway.start();
  return { gateway, stop: () => gateway.stop() };
}

function figuresOf(broker: string, outcomes: Outcomes): Record<string, number> {
  const names = Object.keys(outcomes).sort();
  const passed = names.filter((n) => outcomes[n] === "passed").length;
  const figures: Record<string, number> = {
    [`${broker}_passed`]: passed,
    [`${broker}_failed`]: names.length - passed,
  };
  for (const name of names) figures[`${broker}_ok_${name}`] = outcomes[name] === "passed" ? 1 : 0;
  return figures;
}

export async function run(options: BenchOptions): Promise<BenchOutput> {
  const { progress, signal } = options;
  const dir = suiteDir();
  if (dir === undefined) throw new UsageError(HOW_TO_PROVIDE);
  const tmp = await mkdtemp(join(tmpdir(), "vigil-paho-"));
  const script = join(tmp, "run_client_test.py");
  await writeFile(script, WRAPPER);
  try {
    const vigil = await progress.phase(
      "Vigil gateway (insecureTesting): Paho client_test.py",
      async () => {
        const { gateway, stop } = await startVigil();
        try {
          return await runSuite(dir, script, gateway.port, signal);
        } finally {
          await stop();
        }
      },
      { summary: (o) => `${Object.values(o).filter((v) => v === "passed").length}/${Object.keys(o).length} passed` },
    );
    const aedes = await progress.phase(
      "bare aedes: Paho client_test.py",
      async () => {
        const broker = await startAedes();
        try {
          return await runSuite(dir, script, broker.port, signal);
        } finally {
          await broker.stop();
        }
      },
      { summary: (o) => `${Object.values(o).filter((v) => v === "passed").length}/${Object.keys(o).length} passed` },
    );
    const figures = { ...figuresOf("vigil", vigil), ...figuresOf("aedes", aedes) };
    const total = Object.keys(vigil).length;
    const aedesPassed = figures.aedes_passed ?? 0;
    return {
      figures,
      ratios: total > 0 && aedesPassed > 0 ? { vigil_vs_aedes_passed: (figures.vigil_passed ?? 0) / aedesPassed } : {},
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
