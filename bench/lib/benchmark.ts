import type { Progress } from "./progress.js";

/**
 * The contract of a benchmark: a file `bench/<name>.ts` exporting `title`, `about` and
 * `run`. `bench/run.ts` finds it by name, runs it, writes `bench/results/<name>.json` and
 * regenerates `docs/benchmarks.md`.
 */
export interface BenchmarkModule {
  /** One line, shown by `--list` and as the docs section's heading. */
  readonly title: string;
  /** Markdown for the docs section: what is measured, what each side does per request. */
  readonly about: string;
  run(options: BenchOptions): Promise<BenchOutput>;
  /** Upper bound of a run in seconds, after which it is aborted. Defaults to 60 + 10 x duration. */
  budgetSeconds?(options: Pick<BenchOptions, "duration" | "connections">): number;
}

export interface BenchOptions {
  /** Seconds of each measured phase. */
  readonly duration: number;
  /** Concurrent connections of the load generator. */
  readonly connections: number;
  /** Progress on stderr. */
  readonly progress: Progress;
  /** Aborted on Ctrl-C or when the time budget runs out: stop load, clean up, throw. */
  readonly signal: AbortSignal;
}

export interface BenchOutput {
  /** Measured values, the unit in the name: `vigil_rps`, `vigil_p99_ms`. */
  readonly figures: Record<string, number>;
  /** Ours / theirs, higher is better (for latency theirs / ours, named `*_speed_ratio`). */
  readonly ratios: Record<string, number>;
}

/** Why a running benchmark was stopped: Ctrl-C (exit code 130) or its time budget (exit code 1). */
export class RunAborted extends Error {
  override readonly name = "RunAborted";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Thrown for problems of the command line (exit code 2). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function isBenchmarkModule(value: unknown): value is BenchmarkModule {
  const m = value as Partial<BenchmarkModule> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    typeof m.run === "function" &&
    typeof m.title === "string" &&
    typeof m.about === "string"
  );
}
