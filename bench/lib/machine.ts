import { readFileSync } from "node:fs";
import { arch, availableParallelism, cpus, loadavg, release, totalmem, type } from "node:os";

/** Where and when a benchmark ran: enough to judge whether two results are comparable. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** One-minute load average when the run started: other work on the machine skews results. */
  readonly loadAtStart: number;
  /** ISO 8601 time the measurement finished. */
  readonly date: string;
  /** The command that produced the result, as typed. */
  readonly command: string;
}

/** The one-minute load average, rounded; `loadavg()` is [0, 0, 0] where the OS has none. */
export function currentLoad(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

export function describeMachine(command: string, loadAtStart: number, now: Date = new Date()): Machine {
  const cpu = cpus()[0]?.model.trim().replace(/\s+/g, " ") ?? "unknown CPU";
  return {
    cpu,
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${distribution() ?? type()} (${type()} ${release()}, ${arch()})`,
    loadAtStart,
    date: now.toISOString(),
    command,
  };
}

/** One line for humans, e.g. `AMD EPYC, 2 cores, 23.4 GiB, Node v20.20.2, Debian GNU/Linux 12 (...), load 0.1 at start`. */
export function machineLine(m: Machine): string {
  const load = typeof m.loadAtStart === "number" ? `, load ${m.loadAtStart} at start` : "";
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}${load}`;
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
