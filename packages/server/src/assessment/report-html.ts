import { ABOUT_TEXT, STATUS_LABEL, type ComplianceReport } from "./compliance-report.js";

/**
 * The compliance report as one self-contained HTML page (inline CSS, no script, no external
 * resource): what an auditor opens in a browser or archives. Every value from the fleet is
 * escaped: device ids, advisory summaries and component names come from outside.
 */

function esc(value: unknown): string {
  const text = value === null || value === undefined ? "—" : typeof value === "string" ? value : JSON.stringify(value);
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function table(headers: readonly string[], rows: readonly (readonly unknown[])[], raw: ReadonlySet<number> = new Set()): string {
  if (rows.length === 0) return `<p class="empty">None.</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((cell, i) => `<td>${raw.has(i) ? String(cell) : esc(cell)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const badge = (status: string) => `<span class="badge ${esc(status)}">${esc(STATUS_LABEL[status] ?? status)}</span>`;
const score = (n: number | null) => (n === null ? "not assessed" : `${n} / 100`);

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;max-width:1100px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #d0d7de;padding-bottom:.2rem}
h3{margin-top:1.4rem}table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f5f7}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;font-size:11px;font-weight:600;color:#fff;background:#6e7781}
.pass{background:#1a7f37}.fail{background:#cf222e}.warning,.partial{background:#bf8700}.not_assessed{background:#8c959f}
.not_applicable{background:#afb8c1}.error{background:#82071e}.meta{color:#57606a}.empty{color:#57606a;font-style:italic}
.big{font-size:2rem;font-weight:700}small{color:#57606a}
`;

export function renderHtml(r: ComplianceReport): string {
  const sc = r.scorecard;
  const parts: string[] = [];
  parts.push(`<h1>Vigil compliance report</h1>
<p class="meta">Generated ${esc(r.generatedAt)} by ${esc(r.generatedBy)} · Vigil ${esc(r.platformVersion)} · vertical profile: ${esc(sc.verticalTitle)}</p>`);

  parts.push(`<h2 id="summary">Summary</h2>
<p><span class="big">${esc(score(sc.overall))}</span> weighted CIA score (${esc(sc.verticalTitle)}); ${esc(sc.controlsPassing === null ? "no control assessed" : `${sc.controlsPassing}% of assessed controls passing`)}.</p>
${table(
  ["devices", "by state", "audit checks", "open vulnerabilities"],
  [
    [
      r.fleet.devices,
      Object.entries(r.fleet.byState)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", "),
      Object.entries(r.auditChecks.summary)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${STATUS_LABEL[k] ?? k}: ${v}`)
        .join(", "),
      `${r.vulnerabilities.openFindings} on ${r.vulnerabilities.devicesAffected} device(s)`,
    ],
  ],
)}
${table(
  ["framework", "pass", "partial", "fail", "not assessed", "n/a"],
  r.frameworks.map((f) => [
    f.title,
    f.summary.pass,
    f.summary.partial,
    f.summary.fail,
    f.summary.not_assessed,
    f.summary.not_applicable,
  ]),
)}`);

  parts.push(`<h2 id="scorecard">CIA scorecard</h2>
<p>${esc(sc.rationale)}</p>
${table(
  ["outcome", "pillar", "weight", "score", "basis"],
  sc.outcomes.map((o) => [
    o.outcome,
    o.pillar,
    o.weight.toFixed(2),
    score(o.score),
    o.basis.map((b) => `${b.check}: ${b.status}${b.penalty > 0 ? ` (-${b.penalty})` : ""}`).join("; ") || "no assessed check",
  ]),
)}
${table(
  ["confidentiality", "integrity", "availability", "overall"],
  [[score(sc.pillars.confidentiality), score(sc.pillars.integrity), score(sc.pillars.availability), score(sc.overall)]],
)}`);

  parts.push(`<h2 id="checks">Audit checks</h2>
${table(
  ["id", "status", "severity", "finding", "affected", "remediation"],
  r.auditChecks.results.map((c) => [
    esc(c.id),
    badge(c.status),
    esc(c.severity),
    esc(c.summary),
    esc(
      c.affectedCount === 0
        ? ""
        : `${c.affected.slice(0, 10).join(", ")}${c.affectedCount > 10 ? ` … (${c.affectedCount})` : ""}`,
    ),
    esc(c.remediation),
  ]),
  new Set([0, 1, 2, 3, 4, 5]),
)}`);

  const v = r.vulnerabilities;
  parts.push(`<h2 id="vulnerabilities">Vulnerabilities</h2>
<p>${esc(v.advisories)} advisories held (last import ${esc(v.lastAdvisoryImportAt ?? "never")}); ${esc(v.openFindings)} open finding(s) on ${esc(v.devicesAffected)} device(s); ${esc(v.withFixAvailable)} with a fixed version available.</p>
${table(
  ["device", "advisory", "component", "version", "severity", "CVSS", "fixed in", "first seen"],
  v.findings.map((f) => [f.device, f.advisory, f.component, f.version, f.severity, f.cvss, f.fixedVersion, f.firstSeenAt]),
)}`);

  for (const f of r.frameworks) {
    parts.push(`<h2 id="${esc(f.id)}">${esc(f.section)}</h2><p><small>${esc(f.title)}</small></p>
${table(
  ["control", "group", "status", "criterion", "evidence"],
  f.controls.map((c) => [
    `<b>${esc(c.ref)}</b> ${esc(c.title)}`,
    esc(c.group),
    badge(c.status),
    esc(c.criterion),
    [
      ...c.evidence.map((e) => `${e.check ? `[${esc(e.check)}] ` : ""}${esc(e.label)}: ${esc(e.value)}`),
      ...(c.reason ? [`<i>${esc(c.reason)}</i>`] : []),
    ].join("<br>"),
  ]),
  new Set([0, 1, 2, 3, 4]),
)}`);
  }

  parts.push(`<h2 id="sboms">SBOM inventory</h2>
${table(
  ["profile", "firmware", "components", "CycloneDX", "serial number", "imported"],
  r.sboms.map((x) => [x.profile ?? "(any)", x.firmwareVersion, x.components, x.specVersion, x.serialNumber, x.importedAt]),
)}
${table(
  ["profile", "firmware in use", "devices"],
  r.fleet.firmware.map((x) => [x.profile, x.version, x.devices]),
)}`);

  parts.push(`<h2 id="about">About this report</h2>${ABOUT_TEXT.map((p) => `<p>${esc(p)}</p>`).join("")}`);

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil compliance report ${esc(r.generatedAt)}</title>
<meta name="generator" content="Vigil ${esc(r.platformVersion)}"><style>${CSS}</style></head>
<body>
${parts.join("\n")}
</body></html>
`;
}
