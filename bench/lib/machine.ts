import { readFileSync } from "node:fs";
import { arch, availableParallelism, cpus, loadavg, release, totalmem, type } from "node:os";

/** Where and when a benchmark ran: enough to judge whether two results are comparable. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** One-minute load average when the run started (it lags: it still counts the last minute). */
  readonly loadAtStart: number;
  /**
   * CPU time used outside this process while the benchmark ran, in % of all cores: other
   * programs (or the benchmark's own child processes). Much above 0, the figures are skewed.
   */
  readonly otherCpuPercent: number;
  /** ISO 8601 time the measurement finished. */
  readonly date: string;
  /** The command that produced the result, as typed. */
  readonly command: string;
}

/** The one-minute load average, rounded; `loadavg()` is [0, 0, 0] where the OS has none. */
export function currentLoad(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

/** CPU time of the whole machine and of this process (all its threads), in ms. */
export interface CpuSnapshot {
  readonly busy: number;
  readonly total: number;
  readonly own: number;
}

export function cpuSnapshot(): CpuSnapshot {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const sum = times.user + times.nice + times.sys + times.irq + times.idle;
    total += sum;
    busy += sum - times.idle;
  }
  const own = process.cpuUsage();
  return { busy, total, own: (own.user + own.system) / 1000 };
}

/** % of all cores' time between two snapshots spent outside this process. */
export function otherCpuPercent(from: CpuSnapshot, to: CpuSnapshot): number {
  const total = to.total - from.total;
  if (total <= 0) return 0;
  const other = to.busy - from.busy - (to.own - from.own);
  return Math.max(0, Math.round((other / total) * 1000) / 10);
}

export function describeMachine(
  command: string,
  load: { loadAtStart: number; otherCpuPercent: number },
  now: Date = new Date(),
): Machine {
  const cpu = cpus()[0]?.model.trim().replace(/\s+/g, " ") ?? "unknown CPU";
  return {
    cpu,
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${distribution() ?? type()} (${type()} ${release()}, ${arch()})`,
    loadAtStart: load.loadAtStart,
    otherCpuPercent: load.otherCpuPercent,
    date: now.toISOString(),
    command,
  };
}

/** One line for humans, e.g. `AMD EPYC, 2 cores, 23.4 GiB, Node v20.20.2, Debian GNU/Linux 12 (...), load 0.1 at start, 2% CPU used by others`. */
export function machineLine(m: Machine): string {
  // Older result files may lack the load fields.
  const load = typeof m.loadAtStart === "number" ? `, load ${m.loadAtStart} at start` : "";
  const others =
    typeof m.otherCpuPercent === "number" ? `, ${m.otherCpuPercent}% CPU used by other processes during the run` : "";
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}${load}${others}`;
}

/** PRETTY_NAME from os-release(5), when there is one. */
function distribution(): string | undefined {
  for (const file of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      const match = /^PRETTY_NAME=("?)(.*)\1$/m.exec(readFileSync(file, "utf8"));
      if (match?.[2]) return match[2];
    } catch {
      // not Linux, or no os-release: fall back to os.type()
    }
  }
  return undefined;
}
