import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Fleet } from "./fleet.js";
import { pickDevice, runScenario, type GroundTruth, type ScenarioName } from "./scenarios.js";
import { sleep, type VirtualDevice } from "./virtual-device.js";

/** One attack on the timeline: which scenario, when (ms after the timeline starts), how long, on which device. */
export interface TimelineEntry {
  readonly scenario: ScenarioName;
  readonly atMs: number;
  readonly durationMs: number;
  /** A device id; by default the best-suited device not attacked yet. */
  readonly device?: string;
}

/**
 * Spreads the scenarios over a run of `totalMs`: a quiet first 15 % (the baseline), then
 * attacks starting one after the other, each lasting about a fifth of the run (at least
 * 2 s, at most 30 s), all over by 90 % of the run.
 */
export function defaultTimeline(totalMs: number, names: readonly ScenarioName[]): TimelineEntry[] {
  if (names.length === 0) return [];
  const durationMs = Math.max(2_000, Math.min(30_000, Math.floor(totalMs * 0.2)));
  const first = Math.floor(totalMs * 0.15);
  const lastStart = Math.max(first, Math.floor(totalMs * 0.9) - durationMs);
  const step = names.length > 1 ? (lastStart - first) / (names.length - 1) : 0;
  return names.map((scenario, i) => ({ scenario, atMs: Math.round(first + i * step), durationMs }));
}

export interface TimelineRun {
  readonly truths: GroundTruth[];
  readonly errors: { scenario: ScenarioName; error: string }[];
}

/**
 * Runs the entries at their times against the fleet, appending each attack's ground truth to
 * `groundTruthFile` (JSONL) as it ends. Each attack gets its own device; they may overlap.
 */
export async function runTimeline(
  fleet: Fleet,
  entries: readonly TimelineEntry[],
  options: {
    groundTruthFile?: string;
    signal?: AbortSignal;
    drill?: boolean;
    /** Behaviour drifts last long enough to be observable (`AttackContext.observableDrift`). */
    observableDrift?: boolean;
    onEvent?: (line: string) => void;
  } = {},
): Promise<TimelineRun> {
  const signal = options.signal ?? new AbortController().signal;
  const started = Date.now();
  const used = new Set<string>();
  const truths: GroundTruth[] = [];
  const errors: TimelineRun["errors"] = [];
  if (options.groundTruthFile !== undefined) await mkdir(dirname(options.groundTruthFile), { recursive: true });
  const chosen: { entry: TimelineEntry; device: VirtualDevice | undefined }[] = entries.map((entry) => {
    // Each attack gets a device of its own while there are enough; then devices are shared.
    const unused = fleet.devices().filter((d) => !used.has(d.id));
    const device =
      entry.device !== undefined
        ? fleet.device(entry.device)
        : pickDevice(entry.scenario, unused.length > 0 ? unused : fleet.devices());
    if (device !== undefined) used.add(device.id);
    return { entry, device };
  });
  await Promise.all(
    chosen.map(async ({ entry, device }) => {
      if (device === undefined) {
        errors.push({ scenario: entry.scenario, error: "no device available for it" });
        return;
      }
      await sleep(Math.max(0, started + entry.atMs - Date.now()), signal);
      if (signal.aborted) return;
      options.onEvent?.(`attack ${entry.scenario} on ${device.id} (${device.profile}) begins`);
      try {
        const truth = await runScenario(
          { fleet, signal, drill: options.drill === true, observableDrift: options.observableDrift === true },
          entry.scenario,
          device,
          entry.durationMs,
        );
        truths.push(truth);
        if (options.groundTruthFile !== undefined) await appendFile(options.groundTruthFile, `${JSON.stringify(truth)}\n`);
        options.onEvent?.(`attack ${entry.scenario} on ${device.id} ended`);
      } catch (error) {
        errors.push({ scenario: entry.scenario, error: (error as Error).message });
        options.onEvent?.(`attack ${entry.scenario} on ${device.id} failed: ${(error as Error).message}`);
      }
    }),
  );
  truths.sort((a, b) => a.start.localeCompare(b.start));
  return { truths, errors };
}
