import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Machine } from "./machine.js";

/** The file `bench/results/<name>.json`: the latest measurement of one benchmark. */
export interface BenchResult {
  readonly benchmark: string;
  readonly machine: Machine;
  readonly figures: Record<string, number>;
  readonly ratios: Record<string, number>;
}

/** Writes `<dir>/<benchmark>.json` atomically and returns its path. */
export async function writeResult(dir: string, result: BenchResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${result.benchmark}.json`);
  const ordered: BenchResult = {
    benchmark: result.benchmark,
    machine: result.machine,
    figures: rounded(result.figures),
    ratios: rounded(result.ratios),
  };
  const problem = shapeProblem(ordered);
  if (problem !== undefined) throw new Error(`result of ${result.benchmark} not written: ${problem}`);
  const tmp = `${file}.${process.pid}.tmp`; // unique: two runs may write at once
  await writeFile(tmp, `${JSON.stringify(ordered, null, 2)}\n`);
  await rename(tmp, file);
  return file;
}

/**
 * Every well-formed `<dir>/*.json`, sorted by benchmark name. A malformed file (another
 * benchmark's bug) is returned in `problems`, naming it, so that it cannot block the others.
 */
export async function readResults(dir: string): Promise<{ results: BenchResult[]; problems: string[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { results: [], problems: [] };
    throw error;
  }
  const results: BenchResult[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, "utf8"));
    } catch (error) {
      problems.push(`${file}: ${(error as Error).message}`);
      continue;
    }
    const problem = shapeProblem(parsed);
    if (problem === undefined) results.push(parsed as BenchResult);
    else problems.push(`${file}: ${problem}`);
  }
  return { results: results.sort((a, b) => a.benchmark.localeCompare(b.benchmark)), problems };
}

function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "not a JSON object";
  const r = value as Record<string, unknown>;
  const keys = Object.keys(r).sort().join(",");
  if (keys !== "benchmark,figures,machine,ratios")
    return `expected exactly the keys benchmark, machine, figures, ratios; found ${keys}`;
  if (typeof r.benchmark !== "string" || r.benchmark === "") return "benchmark must be a non-empty string";
  if (typeof r.machine !== "object" || r.machine === null) return "machine must be an object";
  for (const key of ["figures", "ratios"] as const) {
    const map = r[key];
    if (typeof map !== "object" || map === null) return `${key} must be an object`;
    for (const [name, v] of Object.entries(map)) {
      if (typeof v !== "number" || !Number.isFinite(v)) return `${key}.${name} must be a finite number`;
    }
  }
  return undefined;
}

/** Four significant digits at most: more is noise for a benchmark. */
function rounded(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Number.isInteger(v) ? v : Number(v.toPrecision(4))]));
}
