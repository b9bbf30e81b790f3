import type { FleetStats } from "./fleet.js";
import type { ObservedSignal } from "./observer.js";
import { scenarios, type GroundTruth } from "./scenarios.js";

/** What the platform did about one attack, measured from its signals. */
export interface AttackOutcome {
  readonly truth: GroundTruth;
  /** ms from the attack's start to the first enforcement (denied, throttled, refused, cut), or null. */
  readonly blockedAfterMs: number | null;
  /** ms from the attack's start to the first alarm (finding, cloned identity, replayed token), or null. */
  readonly detectedAfterMs: number | null;
  readonly counts: Readonly<Record<string, number>>;
  /** Messages the gateway dropped for rate (sum of `gateway.throttled.dropped`). */
  readonly dropped: number;
  readonly findings: readonly string[];
  /** Why the device refused updates (`ota.failed` / `ota.refused` reasons). */
  readonly otaReasons: readonly string[];
}

export interface RunReport {
  readonly attacks: readonly AttackOutcome[];
  /** Enforcement or findings on devices that were never attacked (false-positive pressure). */
  readonly benignFlags: readonly ObservedSignal[];
  readonly findings: number;
}

/** Session ends that are not the platform acting (the device closed or lost its link). */
const BENIGN_DISCONNECTS = new Set(["client_disconnected", "connection_lost", "keepalive_timeout"]);

function isEnforcement(s: ObservedSignal): boolean {
  switch (s.name) {
    case "gateway.denied":
    case "gateway.throttled":
    case "gateway.connect_refused":
    case "enrollment.failed":
    case "ota.failed":
    case "ota.refused":
      return true;
    case "gateway.disconnected":
      return !BENIGN_DISCONNECTS.has(s.reason);
    default:
      return false;
  }
}

/** Detection keys findings about connections without an identity by source address (`source:<ip>`). */
function isSourceKeyed(s: ObservedSignal): boolean {
  return s.device?.startsWith("source:") === true;
}

function isAlarm(s: ObservedSignal): boolean {
  return (
    s.name === "finding.raised" ||
    s.name === "identity.cloned_suspected" ||
    s.name === "enrollment.token_replayed" ||
    s.name === "ota.refused" ||
    s.name === "network.anomaly_detected" ||
    (s.name === "ota.failed" && (s.reason === "hash_mismatch" || s.reason === "signature_invalid"))
  );
}

/**
 * Matches each attack with the signals about its actors between its start and `graceMs`
 * after its end. Refusals without a device (a TLS handshake without a certificate) belong to
 * the brute-force attacks running at the time.
 */
export function analyse(truths: readonly GroundTruth[], signals: readonly ObservedSignal[], graceMs = 5_000): RunReport {
  const attacked = new Set(truths.flatMap((t) => t.actors));
  const attacks = truths.map((truth): AttackOutcome => {
    const start = Date.parse(truth.start);
    const end = Date.parse(truth.end) + graceMs;
    const actors = new Set(truth.actors);
    const mine = signals.filter(
      (s) =>
        s.at >= start &&
        s.at <= end &&
        (s.device !== null && !isSourceKeyed(s)
          ? actors.has(s.device)
          : truth.scenario === "brute-force" && (s.name === "gateway.connect_refused" || s.name === "finding.raised")),
    );
    const counts: Record<string, number> = {};
    for (const s of mine) counts[s.name] = (counts[s.name] ?? 0) + 1;
    const firstBlock = mine.find(isEnforcement);
    const firstAlarm = mine.find(isAlarm);
    return {
      truth,
      blockedAfterMs: firstBlock ? firstBlock.at - start : null,
      detectedAfterMs: firstAlarm ? firstAlarm.at - start : null,
      counts,
      dropped: mine.reduce((sum, s) => sum + s.dropped, 0),
      findings: mine.filter((s) => s.name === "finding.raised").map((s) => s.reason),
      otaReasons: mine.filter((s) => s.name === "ota.failed" || s.name === "ota.refused").map((s) => s.reason),
    };
  });
  const bruteForceWindows = truths
    .filter((t) => t.scenario === "brute-force")
    .map((t) => [Date.parse(t.start), Date.parse(t.end) + graceMs] as const);
  const benignFlags = signals.filter(
    (s) =>
      s.device !== null &&
      !attacked.has(s.device) &&
      (isEnforcement(s) || s.name === "finding.raised") &&
      !(isSourceKeyed(s) && bruteForceWindows.some(([a, b]) => s.at >= a && s.at <= b)),
  );
  return { attacks, benignFlags, findings: signals.filter((s) => s.name === "finding.raised").length };
}

function ms(v: number): string {
  return v < 1_000 ? `${Math.max(0, Math.round(v))} ms` : `${(v / 1_000).toFixed(1)} s`;
}

function what(o: AttackOutcome): string {
  const c = o.counts;
  const parts: string[] = [];
  if (c["gateway.denied"]) parts.push(`${c["gateway.denied"]} request(s) denied by policy`);
  if (o.dropped > 0) parts.push(`${o.dropped} message(s) dropped over the rate limit`);
  const cut = c["gateway.disconnected"];
  if (cut) parts.push(`${cut} session(s) cut`);
  if (c["gateway.connect_refused"]) parts.push(`${c["gateway.connect_refused"]} connection(s) refused`);
  if (c["identity.cloned_suspected"]) parts.push(`${c["identity.cloned_suspected"]} cloned-identity alarm(s)`);
  if (c["network.anomaly_detected"]) parts.push(`${c["network.anomaly_detected"]} network anomaly alert(s)`);
  if (c["ota.failed"])
    parts.push(`${c["ota.failed"]} update(s) refused by the device (${[...new Set(o.otaReasons)].join(", ")})`);
  if (c["ota.refused"])
    parts.push(`${c["ota.refused"]} unsolicited update(s) refused by the device (${[...new Set(o.otaReasons)].join(", ")})`);
  if (c["enrollment.token_replayed"]) parts.push(`${c["enrollment.token_replayed"]} replayed-token alarm(s)`);
  if (o.findings.length > 0) parts.push(`findings: ${[...new Set(o.findings)].join(", ")}`);
  return parts.join("; ");
}

/** The summary in plain words, as `vigil demo` and `vigil simulate` print it. */
export function formatReport(report: RunReport, stats?: FleetStats): string {
  const lines: string[] = [];
  if (stats !== undefined) {
    lines.push(
      `Fleet: ${stats.devices} devices (${Object.entries(stats.byProfile)
        .map(([p, n]) => `${n} ${p}`)
        .join(", ")}), ${stats.sent} messages sent (${(stats.bytes / 1024).toFixed(0)} KiB), ` +
        `${stats.reboots} reboot(s), ${stats.blips} network blip(s), ${stats.reconnects} reconnect(s)` +
        (stats.enrollFailures + stats.connectFailures > 0
          ? `, ${stats.enrollFailures} enrollment and ${stats.connectFailures} connection failure(s)`
          : "") +
        ".",
    );
  }
  lines.push("", `Attacks (${report.attacks.length}):`);
  let blocked = 0;
  let detected = 0;
  for (const o of report.attacks) {
    const title = scenarios[o.truth.scenario].title;
    const head = `- ${title} on ${o.truth.device}`;
    const acts: string[] = [];
    if (o.blockedAfterMs !== null) {
      blocked++;
      acts.push(`blocked ${ms(o.blockedAfterMs)} after it began`);
    }
    if (o.detectedAfterMs !== null) {
      detected++;
      acts.push(`detected ${ms(o.detectedAfterMs)} after it began`);
    }
    const done = what(o);
    if (acts.length === 0)
      lines.push(
        `${head}: not blocked — it stayed within the device's policy, and no detection finding named it (spotting it is the detection engine's job).`,
      );
    else lines.push(`${head}: ${acts.join(", ")} (${done}).`);
  }
  lines.push(
    "",
    `${blocked} of ${report.attacks.length} attacks were blocked (by the gateway, or by the device refusing an update), ${detected} raised an alarm` +
      (report.findings > 0 ? `, ${report.findings} detection finding(s) in all.` : "."),
  );
  const benignDevices = new Set(report.benignFlags.map((s) => s.device));
  lines.push(
    benignDevices.size === 0
      ? "No device that was not attacked was denied, throttled, cut or flagged."
      : `${benignDevices.size} device(s) that were not attacked were denied, throttled, cut or flagged (${report.benignFlags.length} signal(s)): false-positive pressure.`,
  );
  for (const s of report.benignFlags.slice(0, 5)) lines.push(`  - ${s.device ?? "?"}: ${s.name} ${s.reason}`);
  return lines.join("\n");
}
