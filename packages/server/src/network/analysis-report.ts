import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AnalysisResult } from "./capture-analysis.js";

/**
 * The report of `vigil net analyze`: `report.json` (everything, machine-readable) and
 * `report.html` (one self-contained page: no script, no external resource; an SVG plot of
 * the anomaly score over time with the threshold and the alerts, then the alert and host
 * lists). Every string from the capture is escaped.
 */

export interface ReportJson {
  readonly format: "vigil-net-report/1";
  readonly source: string;
  readonly captureFormat: string | null;
  readonly packets: number;
  readonly bytes: number | null;
  readonly start: string | null;
  readonly end: string | null;
  readonly training: { readonly packets: number; readonly threshold: number | null; readonly completed: boolean };
  readonly scoredPackets: number;
  readonly error: AnalysisResult["error"] | null;
  readonly alerts: unknown[];
  readonly hosts: unknown[];
  readonly detectorState: Record<string, { size: number; capacity: number; evictions: number }>;
  readonly series: { t: number; max: number; firstPacket: number }[];
}

const iso = (t: number) => (Number.isFinite(t) ? new Date(t * 1000).toISOString() : null);

export function reportJson(r: AnalysisResult): ReportJson {
  return {
    format: "vigil-net-report/1",
    source: r.source,
    captureFormat: r.summary?.format ?? null,
    packets: r.packets,
    bytes: r.summary?.bytes ?? null,
    start: iso(r.firstTs),
    end: iso(r.lastTs),
    training: {
      packets: r.trainPackets,
      threshold: Number.isFinite(r.threshold) ? r.threshold : null,
      completed: !r.detector.training,
    },
    scoredPackets: r.scored,
    error: r.error ?? null,
    alerts: r.alerts.map((a) => ({ ...a, start: iso(a.start), end: iso(a.end) })),
    hosts: r.inventory.hosts().map((h) => ({
      mac: h.mac,
      ips: [...h.ips],
      device: h.device ?? null,
      firstSeen: iso(h.firstSeen),
      lastSeen: iso(h.lastSeen),
      packets: h.packets,
      bytes: h.bytes,
      type: h.identification?.type ?? null,
      confidence: h.identification?.confidence ?? null,
      hostname: h.hostname ?? null,
      vendorClass: h.vendorClass ?? null,
      dnsNames: [...h.dnsNames],
      userAgents: [...h.userAgents],
      mqttClientIds: [...h.mqttClientIds],
    })),
    detectorState: r.detector.features.tableStats(),
    series: r.series.map((s) => ({ t: s.t, max: s.max, firstPacket: s.firstPacket })),
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function plot(r: AnalysisResult): string {
  const W = 960;
  const H = 260;
  const pad = { l: 56, r: 12, t: 12, b: 28 };
  const pts = r.series.filter((s) => Number.isFinite(s.t));
  if (pts.length < 2) return `<p>Too few packets to plot.</p>`;
  const t0 = pts[0]!.t;
  const t1 = Math.max(pts[pts.length - 1]!.t, t0 + 1e-6);
  const thr = Number.isFinite(r.threshold) ? r.threshold : 0;
  // Log scale: scores span orders of magnitude. Zero (training) sits on the floor.
  const positive = pts.map((p) => p.max).filter((v) => v > 0);
  const lo = Math.log10(Math.min(...positive, thr > 0 ? thr : Infinity, 1) / 2 || 1e-3);
  const hi = Math.log10(Math.max(...positive, thr, 1e-3) * 2);
  const x = (t: number) => pad.l + ((t - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const y = (v: number) => {
    const l = v > 0 ? Math.log10(v) : lo;
    return pad.t + (1 - (Math.max(lo, l) - lo) / (hi - lo)) * (H - pad.t - pad.b);
  };
  const line = pts.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`).join(" ");
  const ticks: string[] = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    ticks.push(
      `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(10 ** e).toFixed(1)}" y2="${y(10 ** e).toFixed(1)}" class="grid"/><text x="${pad.l - 6}" y="${(y(10 ** e) + 4).toFixed(1)}" text-anchor="end">1e${e}</text>`,
    );
  }
  const marks = r.alerts
    .slice(0, 500)
    .map(
      (a) =>
        `<rect x="${x(a.start).toFixed(1)}" y="${pad.t}" width="${Math.max(1, x(a.end) - x(a.start)).toFixed(1)}" height="${H - pad.t - pad.b}" class="alert"><title>alert ${a.id}: ${escapeHtml(a.src)} -> ${escapeHtml(a.dst)}</title></rect>`,
    )
    .join("");
  const threshold =
    thr > 0
      ? `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(thr).toFixed(1)}" y2="${y(thr).toFixed(1)}" class="thr"/><text x="${W - pad.r}" y="${(y(thr) - 4).toFixed(1)}" text-anchor="end" class="thrlabel">threshold ${thr.toPrecision(3)}</text>`
      : "";
  const span = t1 - t0;
  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="anomaly score over time">
<style>text{font:11px sans-serif;fill:#555}.grid{stroke:#eee}.thr{stroke:#c00;stroke-dasharray:4 3}.thrlabel{fill:#c00}.alert{fill:#f4b4b4;opacity:.6}polyline{fill:none;stroke:#2a5db0;stroke-width:1}</style>
${ticks.join("")}${marks}${threshold}<polyline points="${line}"/>
<text x="${pad.l}" y="${H - 8}">${escapeHtml(iso(t0) ?? "")}</text><text x="${W - pad.r}" y="${H - 8}" text-anchor="end">+${span.toFixed(1)} s</text>
</svg>`;
}

export function reportHtml(r: AnalysisResult): string {
  const j = reportJson(r);
  const row = (cells: (string | number | null)[]) =>
    `<tr>${cells.map((c) => `<td>${escapeHtml(c === null ? "-" : String(c))}</td>`).join("")}</tr>`;
  const alerts = r.alerts
    .slice(0, 2000)
    .map((a) =>
      row([
        a.id,
        iso(a.start),
        (a.end - a.start || 0).toFixed(2),
        a.src,
        a.dst,
        a.protocol,
        a.packets,
        a.maxScore.toPrecision(4),
        a.deviations.map((d) => `${d.description}: ${d.value} (trained ${d.trainedMin}..${d.trainedMax})`).join("; "),
      ]),
    )
    .join("\n");
  const hosts = r.inventory
    .hosts()
    .map((h) =>
      row([
        h.mac,
        [...h.ips].join(", "),
        h.device ?? null,
        h.identification ? `${h.identification.type} (${h.identification.confidence})` : null,
        h.packets,
        iso(h.firstSeen),
      ]),
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil packet analysis: ${escapeHtml(r.source)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f6f6f6}.err{color:#a00}</style>
</head><body>
<h1>Packet analysis</h1>
<p><b>${escapeHtml(r.source)}</b> (${escapeHtml(j.captureFormat ?? "?")}): ${j.packets.toLocaleString("en-US")} packets, ${escapeHtml(j.start ?? "-")} to ${escapeHtml(j.end ?? "-")}.
Trained on the first ${j.training.packets.toLocaleString("en-US")} packets${j.training.completed ? `; threshold ${j.training.threshold?.toPrecision(4) ?? "-"}; ${j.scoredPackets.toLocaleString("en-US")} packets scored` : " — <b>the capture ended during training: nothing was scored</b>"}.</p>
${j.error ? `<p class="err">The capture ended early: ${escapeHtml(j.error.code)}: ${escapeHtml(j.error.message)}. Everything before that point is included.</p>` : ""}
<h2>Anomaly score over time</h2>
${plot(r)}
<h2>Alerts (${r.alerts.length})</h2>
<table><tr><th>#</th><th>start</th><th>duration s</th><th>source</th><th>destination</th><th>protocol</th><th>packets</th><th>max score</th><th>statistics that deviated most</th></tr>
${alerts}
</table>
<h2>Hosts (${r.inventory.size})</h2>
<table><tr><th>MAC</th><th>IP</th><th>enrolled device</th><th>type</th><th>packets sent</th><th>first seen</th></tr>
${hosts}
</table>
</body></html>
`;
}

export async function writeReport(dir: string, r: AnalysisResult): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, "report.json");
  const html = join(dir, "report.html");
  await writeFile(json, `${JSON.stringify(reportJson(r), null, 2)}\n`);
  await writeFile(html, reportHtml(r));
  return { json, html };
}
