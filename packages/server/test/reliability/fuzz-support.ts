import { createHash } from "node:crypto";
import { memoryChartSvg } from "./memory-chart.js";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Seeded, reproducible mutation fuzzing. Every case has its own generator derived from
 * (run seed, case index), so one failing case is replayed with
 * `VIGIL_FUZZ_SEED=<seed> VIGIL_FUZZ_CASE=<index>` without running the ones before it.
 */

/** A count from the environment (`VIGIL_FUZZ_CASES=200000`), or the bounded CI default. */
export function envCount(name: string, ciDefault: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return ciDefault;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

/** The run's seed: `VIGIL_FUZZ_SEED`, or a fresh one (printed by the caller so a failure can be replayed). */
export function runSeed(): number {
  const raw = process.env.VIGIL_FUZZ_SEED;
  if (raw !== undefined && raw !== "") return Number(raw) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** When set, only this case index runs (a replay). */
export function onlyCase(): number | undefined {
  const raw = process.env.VIGIL_FUZZ_CASE;
  return raw === undefined || raw === "" ? undefined : Number(raw);
}

/** The case indices of a run: `0..count-1`, or just the replayed one. */
export function caseIndices(count: number): number[] {
  const only = onlyCase();
  return only !== undefined ? [only] : Array.from({ length: count }, (_, i) => i);
}

/** xoshiro128** seeded through splitmix32: small, fast, good enough for fuzzing, and portable. */
export class Rng {
  #s: Uint32Array;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s = new Uint32Array([next(), next(), next(), next()]);
  }

  /** The generator of case `index` of run `seed`. */
  static forCase(seed: number, index: number, salt = ""): Rng {
    const h = createHash("sha256").update(`${seed}:${index}:${salt}`).digest();
    return new Rng(h.readUInt32LE(0));
  }

  u32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** 0 <= n < max. */
  int(max: number): number {
    return max <= 0 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * max);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x30, 0x82, 0xc0, 0xe0];
const INTERESTING_16 = [0x0000, 0x0001, 0x007f, 0x0080, 0x00ff, 0x7fff, 0x8000, 0xffff, 0x0100, 0x4000];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x0000ffff, 0x00010000, 0x0a0d0d0a, 0xa1b2c3d4];

/**
 * One AFL-style mutation stack (1 to 8 operators) of `input`: bit flips, interesting
 * values, arithmetic, deletions, duplications, insertions, truncation and splices with
 * another member of `corpus`. Never returns more than `maxBytes`.
 */
export function mutateBytes(rng: Rng, input: Buffer, corpus: readonly Buffer[] = [], maxBytes = 1 << 20): Buffer {
  let out = Buffer.from(input);
  const stack = 1 << rng.int(4);
  for (let i = 0; i < stack; i++) {
    const len = out.length;
    const pos = rng.int(Math.max(1, len));
    switch (rng.int(12)) {
      case 0:
        if (len > 0) out[pos] = out[pos]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (len > 0) out[pos] = rng.pick(INTERESTING_8);
        break;
      case 2:
        if (len > 1) {
          const v = rng.pick(INTERESTING_16);
          const at = rng.int(len - 1);
          if (rng.chance(0.5)) out.writeUInt16BE(v, at);
          else out.writeUInt16LE(v, at);
        }
        break;
      case 3:
        if (len > 3) {
          const v = rng.pick(INTERESTING_32);
          const at = rng.int(len - 3);
          if (rng.chance(0.5)) out.writeUInt32BE(v >>> 0, at);
          else out.writeUInt32LE(v >>> 0, at);
        }
        break;
      case 4:
        if (len > 0) out[pos] = (out[pos]! + (rng.int(71) - 35)) & 0xff;
        break;
      case 5:
        if (len > 0) out[pos] = rng.u32() & 0xff;
        break;
      case 6: {
        // delete a range
        const n = 1 + rng.int(Math.min(len, 64));
        out = Buffer.concat([out.subarray(0, pos), out.subarray(Math.min(len, pos + n))]);
        break;
      }
      case 7: {
        // duplicate a range in place
        const n = 1 + rng.int(Math.min(Math.max(len - pos, 1), 256));
        out = Buffer.concat([out.subarray(0, pos), out.subarray(pos, pos + n), out.subarray(pos)]);
        break;
      }
      case 8:
        out = Buffer.concat([out.subarray(0, pos), rng.bytes(1 + rng.int(32)), out.subarray(pos)]);
        break;
      case 9:
        out = out.subarray(0, rng.int(len + 1));
        break;
      case 10: {
        // splice: our head with another member's tail
        if (corpus.length === 0) break;
        const other = rng.pick(corpus);
        out = Buffer.concat([out.subarray(0, pos), other.subarray(rng.int(other.length + 1))]);
        break;
      }
      default: {
        // overwrite a range with bytes from another member (or ourselves)
        const other = corpus.length > 0 && rng.chance(0.5) ? rng.pick(corpus) : out;
        if (other.length === 0 || len === 0) break;
        const from = rng.int(other.length);
        const n = 1 + rng.int(Math.min(other.length - from, len - pos, 32));
        other.copy(out, pos, from, from + n);
        break;
      }
    }
  }
  return out.length > maxBytes ? out.subarray(0, maxBytes) : out;
}

const HOSTILE_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  -0,
  1e308,
  -1e308,
  2 ** 53 + 1,
  0.5,
  "",
  " ",
  "\u0000",
  "\uffff\ud800",
  "../../../../etc/passwd",
  "<script>alert(1)</script>",
  "' OR 1=1 --",
  "${jndi:ldap://x}",
  "%s%s%s%n",
  "9999999999999999999999",
  "NaN",
  "1970-01-01T00:00:00Z",
  "x".repeat(70_000),
  [],
  {},
  [null],
  { __proto__: { polluted: true } },
  JSON.parse('{"__proto__":{"polluted":true}}'),
  { constructor: { prototype: { polluted: true } } },
];

/** A fresh copy of a hostile value (they are mutated in place later, so never shared). */
function hostile(rng: Rng): unknown {
  return structuredClone(rng.pick(HOSTILE_VALUES));
}

/** Deeply nested arrays (parsers that recurse blow their stack on these). */
function deepNest(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/**
 * A structural mutation of a JSON value: a random node replaced by a hostile value, a
 * member dropped or added, a type swapped, arrays blown up. The input is not modified.
 */
export function mutateJson(rng: Rng, value: unknown): unknown {
  const copy: unknown = structuredClone(value);
  const steps = 1 + rng.int(3);
  let root = copy;
  for (let s = 0; s < steps; s++) root = mutateOnce(rng, root, 0);
  return root;
}

function mutateOnce(rng: Rng, node: unknown, depth: number): unknown {
  const container = typeof node === "object" && node !== null;
  if (container && depth < 12 && rng.chance(0.7)) {
    if (Array.isArray(node)) {
      if (node.length === 0 || rng.chance(0.15)) {
        node.push(rng.chance(0.5) ? hostile(rng) : structuredClone(node[0] ?? null));
        return node;
      }
      if (rng.chance(0.1)) {
        // many copies of one element
        const item = node[rng.int(node.length)];
        const copies = typeof item === "object" || typeof item === "string" ? 1 + rng.int(50) : 1 + rng.int(2000);
        for (let i = 0; i < copies; i++) node.push(structuredClone(item));
        return node;
      }
      const i = rng.int(node.length);
      node[i] = mutateOnce(rng, node[i], depth + 1);
      return node;
    }
    const obj = node as Record<string, unknown>;
    const keys = Object.keys(obj);
    const roll = rng.int(10);
    if (keys.length === 0 || roll === 0) {
      obj[rng.pick(["extra", "__proto__", "constructor", "", "a".repeat(300), "id", "profile", "count"])] = hostile(rng);
      return obj;
    }
    const key = rng.pick(keys);
    if (roll === 1) {
      delete obj[key];
      return obj;
    }
    obj[key] = mutateOnce(rng, obj[key], depth + 1);
    return obj;
  }
  switch (rng.int(8)) {
    case 0:
      return deepNest(1 + rng.int(1000));
    case 1:
      return typeof node === "string"
        ? node.repeat(Math.max(1, Math.min(1 + rng.int(200), Math.floor(1_000_000 / Math.max(1, node.length)))))
        : typeof node === "object" || typeof node === "function"
          ? "[object Object]"
          : `${node as number}`;
    case 2:
      return typeof node === "number" ? node * -1 - 1 : hostile(rng);
    case 3:
      return typeof node === "string" ? mutateBytes(rng, Buffer.from(node)).toString("utf8") : node;
    case 4:
      return [node];
    case 5:
      return { value: node };
    default:
      return hostile(rng);
  }
}

/**
 * The error a failing case throws: the seed, the case index, how to replay it, and the input
 * (base64, also saved to a file in the temp directory).
 */
export function fuzzFailure(target: string, seed: number, index: number, input: Buffer | string, why: string): Error {
  const bytes = typeof input === "string" ? Buffer.from(input) : input;
  const dir = join(tmpdir(), "vigil-fuzz-failures");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${target}-${seed}-${index}.bin`);
  writeFileSync(file, bytes);
  const shown =
    bytes.length > 2048 ? `${bytes.subarray(0, 2048).toString("base64")}... (${bytes.length} bytes)` : bytes.toString("base64");
  return new Error(
    `fuzz target ${target} failed on case ${index} of seed ${seed}: ${why}\n` +
      `  replay: VIGIL_FUZZ_SEED=${seed} VIGIL_FUZZ_CASE=${index} npm test -- ${target}\n` +
      `  input (${bytes.length} bytes, saved to ${file}): ${shown}`,
  );
}

/** Resident set size of a process in KiB (Linux /proc), or undefined when it is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The JSON text of a mutated value, cut at `maxBytes` (a cut makes it malformed, which is a case too). */
export function jsonText(value: unknown, maxBytes = 1 << 20): Buffer {
  let text: string;
  try {
    text = JSON.stringify(value) ?? "null";
  } catch {
    text = "null";
  }
  const bytes = Buffer.from(text);
  return bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes;
}

/** One point of a fuzz run's memory curve. */
export interface FuzzMemorySample {
  readonly cases: number;
  readonly rssMiB: number | null;
  readonly heapUsedMiB: number | null;
}

/**
 * The daemon's memory every `every` cases of a fuzz run (about 40 points whatever the case
 * count), so that "memory stays bounded" can be read as a curve: a leak per case climbs
 * steadily, a high-water mark flattens out.
 */
export class FuzzMemoryCurve {
  readonly every: number;
  readonly #pending: Promise<FuzzMemorySample>[] = [];
  readonly #daemon: { rssKiB(): number | undefined; heapUsedMiB(): Promise<number | null> };

  constructor(daemon: { rssKiB(): number | undefined; heapUsedMiB(): Promise<number | null> }, totalCases: number) {
    this.#daemon = daemon;
    this.every = Math.max(250, Math.ceil(totalCases / 40));
  }

  /** Call after each finished case with the number of cases done. */
  note(done: number): void {
    if (done % this.every !== 0) return;
    const rss = this.#daemon.rssKiB();
    this.#pending.push(
      this.#daemon.heapUsedMiB().then((heapUsedMiB) => ({
        cases: done,
        rssMiB: rss === undefined ? null : Math.round(rss / 102.4) / 10,
        heapUsedMiB,
      })),
    );
  }

  async samples(): Promise<FuzzMemorySample[]> {
    return (await Promise.all(this.#pending)).sort((a, b) => a.cases - b.cases);
  }
}

/**
 * With `VIGIL_RELIABILITY_OUT` set (`npm run test:long`): writes a fuzz run's figures as
 * `<target>.json` and its memory curve as `<target>-memory.svg` there, for docs/reliability.md.
 */
export function writeFuzzFigures(
  target: string,
  label: string,
  figures: { readonly cases: number; readonly memory: readonly FuzzMemorySample[] },
  warmupCases: number,
): void {
  const out = process.env.VIGIL_RELIABILITY_OUT;
  if (!out) return;
  writeFileSync(join(out, `${target}.json`), JSON.stringify(figures, null, 2));
  writeFileSync(
    join(out, `${target}-memory.svg`),
    fuzzMemoryChartSvg(
      figures.memory,
      `Vigil's memory during ${figures.cases.toLocaleString("en")} ${label} fuzz cases`,
      warmupCases,
    ),
  );
}

/** The curve as an SVG chart (RSS and heap against cases tried), for docs/reliability.md. */
export function fuzzMemoryChartSvg(samples: readonly FuzzMemorySample[], title: string, warmupCases: number): string {
  return memoryChartSvg(
    samples
      .filter((s) => s.rssMiB !== null)
      .map((s) => ({ t: s.cases, rssMiB: s.rssMiB as number, heapUsedMiB: s.heapUsedMiB, connected: null })),
    title,
    warmupCases,
    "fuzz cases tried",
  );
}
