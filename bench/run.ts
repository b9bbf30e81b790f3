// Runs benchmarks by name: `npm run bench -- <name>... [--duration S] [--connections N]`,
// `npm run bench -- --list`. A benchmark is `bench/<name>.ts` exporting what
// `lib/benchmark.ts` describes; each run writes `bench/results/<name>.json` and regenerates
// `docs/benchmarks.md` from every result file.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { RunAborted, UsageError, isBenchmarkModule, type BenchmarkModule, type BenchOutput } from "./lib/benchmark.js";
import { renderBenchmarksDoc, writeBenchmarksDoc, type BenchmarkText } from "./lib/docs.js";
import { cpuSnapshot, currentLoad, describeMachine, otherCpuPercent } from "./lib/machine.js";
import { Progress } from "./lib/progress.js";
import { readResults, writeResult } from "./lib/results.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = join(BENCH_DIR, "results");
const DOCS_FILE = join(BENCH_DIR, "..", "docs", "benchmarks.md");
const NAME = /^[a-z0-9][a-z0-9-]*$/;
const DEFAULT_DURATION = 10;
const DEFAULT_CONNECTIONS = 20;
/** After an abort, how long a benchmark may take to clean up before the process exits anyway. */
const GRACE_MS = 15_000;
/** Above this share of all cores used by other processes, a run warns that it is skewed. */
const BUSY_PERCENT = 10;

const USAGE = `usage: npm run bench -- <name>... [--duration SECONDS] [--connections N]
       npm run bench -- --list
       npm run bench -- --docs

  <name>             a benchmark, i.e. a file bench/<name>.ts; several run one after another
  --duration S       seconds of each measured phase (default ${DEFAULT_DURATION})
  --connections N    concurrent connections of the load generator (default ${DEFAULT_CONNECTIONS})
  --list             list the benchmarks and exit
  --docs             only regenerate docs/benchmarks.md from bench/results/*.json

Each run writes bench/results/<name>.json and regenerates docs/benchmarks.md.
Progress goes to stderr; a summary of the figures goes to stdout.`;

interface Cli {
  readonly names: string[];
  readonly list: boolean;
  readonly docs: boolean;
  readonly help: boolean;
  readonly duration: number;
  readonly connections: number;
}

function parseCli(argv: string[]): Cli {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        list: { type: "boolean" },
        docs: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        duration: { type: "string" },
        connections: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  return {
    names: positionals,
    list: values.list === true,
    docs: values.docs === true,
    help: values.help === true,
    duration: positiveInteger("--duration", values.duration, DEFAULT_DURATION, 3600),
    connections: positiveInteger("--connections", values.connections, DEFAULT_CONNECTIONS, 10_000),
  };
}

function positiveInteger(flag: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `bench/<name>.ts` files, except this runner, declarations and tests. */
function benchmarkNames(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && !f.endsWith(".test.ts") && f !== "run.ts")
    .map((f) => f.slice(0, -".ts".length))
    .filter((n) => NAME.test(n))
    .sort();
}

async function loadBenchmark(name: string): Promise<BenchmarkModule> {
  const module: unknown = await import(pathToFileURL(join(BENCH_DIR, `${name}.ts`)).href);
  if (!isBenchmarkModule(module)) {
    throw new Error(
      `bench/${name}.ts must export \`title\` and \`about\` (strings) and \`run(options)\`; see bench/lib/benchmark.ts`,
    );
  }
  return module;
}

/** Title and description of each benchmark that has a result, from its module when it loads. */
async function benchmarkTexts(names: readonly string[]): Promise<Map<string, BenchmarkText>> {
  const texts = new Map<string, BenchmarkText>();
  for (const name of names) {
    if (!NAME.test(name) || !existsSync(join(BENCH_DIR, `${name}.ts`))) continue;
    try {
      const { title, about } = await loadBenchmark(name);
      texts.set(name, { title, about });
    } catch (error) {
      process.stderr.write(
        `warning: bench/${name}.ts did not load (${(error as Error).message}); its docs section has no description\n`,
      );
    }
  }
  return texts;
}

async function regenerateDocs(): Promise<void> {
  const { results, problems } = await readResults(RESULTS_DIR);
  for (const problem of problems) process.stderr.write(`warning: left out of docs/benchmarks.md: ${problem}\n`);
  const texts = await benchmarkTexts(results.map((r) => r.benchmark));
  await writeBenchmarksDoc(DOCS_FILE, renderBenchmarksDoc(results, texts));
}

/** The command as a user would type it, for the docs. */
function commandLine(argv: readonly string[]): string {
  const quoted = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return ["npm run bench --", ...quoted].join(" ");
}

async function runOne(name: string, cli: Cli, argv: readonly string[], interrupt: AbortSignal): Promise<void> {
  const module = await loadBenchmark(name);
  const progress = new Progress(name);
  const budget = module.budgetSeconds?.(cli) ?? 60 + 10 * cli.duration;
  const controller = new AbortController();
  const abort = (reason: RunAborted) => {
    if (controller.signal.aborted) return;
    controller.abort(reason);
    // The benchmark should now stop its load, clean up and throw; if it hangs, leave anyway.
    setTimeout(() => {
      process.stderr.write(`[${name}] did not stop within ${GRACE_MS / 1000} s of being aborted; exiting\n`);
      process.exit(1);
    }, GRACE_MS).unref();
  };
  const watchdog = setTimeout(() => abort(new RunAborted(`${name} exceeded its time budget of ${budget} s`, 1)), budget * 1000);
  const onInterrupt = () => abort(new RunAborted(`${name} interrupted`, 130));
  interrupt.addEventListener("abort", onInterrupt, { once: true });

  const loadAtStart = currentLoad();
  progress.note(`duration ${cli.duration} s per phase, ${cli.connections} connections, time budget ${budget} s`);
  // One idle second first: is something else using the CPUs?
  const idleFrom = cpuSnapshot();
  await sleep(1000);
  const othersBefore = otherCpuPercent(idleFrom, cpuSnapshot());
  if (othersBefore > BUSY_PERCENT) {
    progress.note(`warning: other processes use ${othersBefore}% of the CPUs (load ${loadAtStart}); expect skewed figures`);
  }
  const runFrom = cpuSnapshot();
  let output: BenchOutput;
  try {
    output = await module.run({ duration: cli.duration, connections: cli.connections, progress, signal: controller.signal });
  } catch (error) {
    // Whatever failed after an abort failed because of it: report the abort.
    throw controller.signal.aborted ? (controller.signal.reason as RunAborted) : error;
  } finally {
    clearTimeout(watchdog);
    interrupt.removeEventListener("abort", onInterrupt);
  }
  const others = otherCpuPercent(runFrom, cpuSnapshot());
  if (others > BUSY_PERCENT) {
    progress.note(
      `warning: other processes used ${others}% of the CPUs during the run; the figures are skewed (recorded with them)`,
    );
  }
  const file = await writeResult(RESULTS_DIR, {
    benchmark: name,
    machine: describeMachine(commandLine(argv), { loadAtStart, otherCpuPercent: others }),
    figures: output.figures,
    ratios: output.ratios,
  });
  await regenerateDocs();
  progress.note(`finished in ${progress.elapsed().toFixed(1)} s; wrote ${relativeToRoot(file)} and docs/benchmarks.md`);
  const width = Math.max(...[...Object.keys(output.figures), ...Object.keys(output.ratios)].map((k) => k.length));
  const lines = [...Object.entries(output.figures), ...Object.entries(output.ratios)].map(
    ([k, v]) => `  ${k.padEnd(width)}  ${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`,
  );
  process.stdout.write(`${name}\n${lines.join("\n")}\n`);
}

function relativeToRoot(file: string): string {
  const root = join(BENCH_DIR, "..");
  return file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
}

async function main(argv: string[]): Promise<number> {
  const cli = parseCli(argv);
  if (cli.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const known = benchmarkNames();
  if (cli.list) {
    for (const name of known) {
      let title: string;
      try {
        title = (await loadBenchmark(name)).title;
      } catch (error) {
        title = `(does not load: ${(error as Error).message})`;
      }
      process.stdout.write(`${name.padEnd(16)} ${title}\n`);
    }
    return 0;
  }
  if (cli.docs) {
    if (cli.names.length > 0) throw new UsageError("--docs runs nothing: give it no benchmark names");
    await regenerateDocs();
    process.stderr.write(`regenerated ${relativeToRoot(DOCS_FILE)}\n`);
    return 0;
  }
  if (cli.names.length === 0) throw new UsageError(`name a benchmark to run (known: ${known.join(", ") || "none"})`);
  const unknown = cli.names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown benchmark${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => JSON.stringify(n)).join(", ")} (known: ${known.join(", ") || "none"}; see --list)`,
    );
  }

  // First Ctrl-C aborts the running benchmark (it cleans up); a second one exits at once.
  const interrupt = new AbortController();
  process.on("SIGINT", () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write("\ninterrupted: stopping (Ctrl-C again to exit at once)\n");
    interrupt.abort();
  });
  for (const name of cli.names) {
    if (interrupt.signal.aborted) return 130;
    await runOne(name, cli, argv, interrupt.signal);
  }
  return 0;
}

/**
 * Workspace packages resolve to their TypeScript sources only under the `vigil-source`
 * export condition (as in scripts/test.mjs). `npm run bench` starts without it, so the
 * runner starts itself again with it.
 */
function hasSourceCondition(): boolean {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
  return args.some(
    (a, i) =>
      /^(--conditions|-C)=vigil-source$/.test(a) || ((a === "--conditions" || a === "-C") && args[i + 1] === "vigil-source"),
  );
}

function reexec(argv: string[]): void {
  const child = spawn(
    process.execPath,
    [...process.execArgv, "--conditions=vigil-source", fileURLToPath(import.meta.url), ...argv],
    {
      stdio: "inherit",
    },
  );
  // The terminal sends Ctrl-C to the child too; this process just waits for it.
  process.on("SIGINT", () => undefined);
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
  child.on("error", (error) => {
    process.stderr.write(`cannot start the benchmark runner: ${error.message}\n`);
    process.exit(1);
  });
}

const argv = process.argv.slice(2);
if (!hasSourceCondition()) {
  reexec(argv);
} else {
  main(argv).then(
    (code) => {
      process.exitCode = code;
      // Anything still open (a socket, a worker) would keep a finished run alive: say so and leave.
      setTimeout(() => {
        process.stderr.write("warning: handles were still open after the run; exiting anyway\n");
        process.exit(code);
      }, 5_000).unref();
    },
    (error: unknown) => {
      if (error instanceof RunAborted) {
        process.stderr.write(`bench: ${error.message}\n`);
        process.exitCode = error.exitCode;
      } else if (error instanceof UsageError) {
        process.stderr.write(`bench: ${error.message}\n\n${USAGE}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = 1;
      }
      setTimeout(() => process.exit(), 5_000).unref();
    },
  );
}
