import PDFDocument from "pdfkit";
import { ABOUT_TEXT, STATUS_LABEL, type ComplianceReport } from "./compliance-report.js";

/**
 * The compliance report as PDF, drawn with pdfkit (pure JavaScript, the 14 standard PDF
 * fonts): no browser on the server, and the same bytes for the same report, since the
 * document's dates and file id come from the report's timestamp, not from the clock.
 */

/** The standard fonts encode WinAnsi only: map what the report uses, drop the rest. */
function pdfText(value: unknown): string {
  const text = value === null || value === undefined ? "-" : typeof value === "string" ? value : JSON.stringify(value);
  return text
    .replace(/[\u2265]/g, ">=")
    .replace(/[\u2264]/g, "<=")
    .replace(/[\u2192]/g, "->")
    .replace(/[\u00a0]/g, " ")
    .replace(/[^\u0020-\u007e\u00a1-\u00ff\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026\n]/g, "?");
}

const STATUS_COLOR: Readonly<Record<string, string>> = {
  pass: "#1a7f37",
  fail: "#cf222e",
  warning: "#9a6700",
  partial: "#9a6700",
  not_assessed: "#57606a",
  not_applicable: "#57606a",
  error: "#82071e",
};

type Doc = PDFKit.PDFDocument;
type Cell = string | PDFKit.Mixins.CellOptions;

function heading(doc: Doc, text: string): void {
  if (doc.y > doc.page.height - doc.page.margins.bottom - 80) doc.addPage();
  doc.moveDown(0.8).font("Helvetica-Bold").fontSize(15).fillColor("#000").text(pdfText(text), doc.page.margins.left);
  doc.moveDown(0.3).font("Helvetica").fontSize(9);
}

function paragraph(doc: Doc, text: string): void {
  doc.font("Helvetica").fontSize(9).fillColor("#000").text(pdfText(text), doc.page.margins.left).moveDown(0.4);
}

function status(s: string): Cell {
  return { text: STATUS_LABEL[s] ?? s, textColor: STATUS_COLOR[s] ?? "#000", font: { src: "Helvetica-Bold" } };
}

function grid(
  doc: Doc,
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  widths: readonly (number | string)[],
): void {
  if (rows.length === 0) {
    paragraph(doc, "None.");
    return;
  }
  const toCell = (c: Cell): Cell => (typeof c === "string" ? pdfText(c) : { ...c, text: pdfText(c.text) });
  doc.x = doc.page.margins.left;
  doc.font("Helvetica").fontSize(7.5);
  doc.table({
    columnStyles: widths.map((w) => ({ width: w })),
    defaultStyle: { border: 0.5, borderColor: "#9aa4ad", padding: 2.5 },
    data: [
      headers.map((h) => ({
        text: pdfText(h),
        backgroundColor: "#e8ecf0",
        font: { src: "Helvetica-Bold" },
        type: "TH" as const,
      })),
      ...rows.map((r) => r.map(toCell)),
    ],
  });
  doc.moveDown(0.6);
}

const score = (n: number | null) => (n === null ? "not assessed" : `${n} / 100`);

export async function renderPdf(r: ComplianceReport): Promise<Buffer> {
  const at = new Date(r.generatedAt);
  const doc = new PDFDocument({
    size: "A4",
    margin: 42,
    bufferPages: true,
    info: {
      Title: `Vigil compliance report ${r.generatedAt}`,
      Author: "Vigil",
      Subject: "Fleet compliance evidence: NIST CSF 2.0, NIST IR 8259A, ETSI EN 303 645",
      Creator: `Vigil ${r.platformVersion}`,
      Producer: "Vigil (pdfkit)",
      CreationDate: at,
      ModDate: at,
    },
  });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });

  const sc = r.scorecard;
  doc.font("Helvetica-Bold").fontSize(20).text("Vigil compliance report");
  doc
    .font("Helvetica")
    .fontSize(9)
    .fillColor("#57606a")
    .text(
      pdfText(
        `Generated ${r.generatedAt} by ${r.generatedBy} - Vigil ${r.platformVersion} - vertical profile: ${sc.verticalTitle}`,
      ),
    );
  doc.fillColor("#000");

  heading(doc, "Summary");
  paragraph(
    doc,
    `Weighted CIA score: ${score(sc.overall)} (${sc.verticalTitle}). ${sc.controlsPassing === null ? "No control assessed." : `${sc.controlsPassing}% of assessed controls passing.`} ${r.fleet.devices} device(s): ${Object.entries(
      r.fleet.byState,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ", ",
      )}. ${r.vulnerabilities.openFindings} open vulnerability finding(s) on ${r.vulnerabilities.devicesAffected} device(s).`,
  );
  grid(
    doc,
    ["framework", "pass", "partial", "fail", "not assessed", "n/a"],
    r.frameworks.map((f) => [
      f.title,
      ...[f.summary.pass, f.summary.partial, f.summary.fail, f.summary.not_assessed, f.summary.not_applicable].map(String),
    ]),
    ["*", 45, 45, 45, 60, 40],
  );
  grid(
    doc,
    ["audit checks", ...Object.keys(r.auditChecks.summary).map((k) => STATUS_LABEL[k] ?? k)],
    [["count", ...Object.values(r.auditChecks.summary).map(String)]],
    ["*", 55, 55, 55, 55, 70, 55],
  );

  heading(doc, "CIA scorecard");
  paragraph(doc, sc.rationale);
  grid(
    doc,
    ["outcome", "pillar", "weight", "score", "basis"],
    sc.outcomes.map((o) => [
      o.outcome,
      o.pillar,
      o.weight.toFixed(2),
      score(o.score),
      o.basis.map((b) => `${b.check}: ${b.status}${b.penalty > 0 ? ` (-${b.penalty})` : ""}`).join("; ") || "no assessed check",
    ]),
    [70, 75, 40, 60, "*"],
  );
  grid(
    doc,
    ["confidentiality", "integrity", "availability", "overall"],
    [[score(sc.pillars.confidentiality), score(sc.pillars.integrity), score(sc.pillars.availability), score(sc.overall)]],
    ["*", "*", "*", "*"],
  );

  heading(doc, "Audit checks");
  grid(
    doc,
    ["check", "status", "severity", "finding", "remediation"],
    r.auditChecks.results.map((c) => [
      c.id,
      status(c.status),
      c.severity,
      `${c.summary}${c.affectedCount > 0 ? ` [${c.affected.slice(0, 8).join(", ")}${c.affectedCount > 8 ? ", ..." : ""}]` : ""}`,
      c.remediation,
    ]),
    [90, 55, 45, "*", 170],
  );

  const v = r.vulnerabilities;
  heading(doc, "Vulnerabilities");
  paragraph(
    doc,
    `${v.advisories} advisories held (last import ${v.lastAdvisoryImportAt ?? "never"}); ${v.openFindings} open finding(s) on ${v.devicesAffected} device(s); ${v.withFixAvailable} with a fixed version available.`,
  );
  grid(
    doc,
    ["device", "advisory", "component", "version", "severity", "CVSS", "fixed in"],
    v.findings.map((f) => [
      f.device,
      f.advisory,
      f.component,
      f.version,
      f.severity,
      f.cvss === null ? "-" : String(f.cvss),
      f.fixedVersion ?? "-",
    ]),
    [70, 85, "*", 50, 45, 30, 50],
  );

  for (const f of r.frameworks) {
    heading(doc, f.section);
    paragraph(doc, f.title);
    grid(
      doc,
      ["control", "status", "criterion", "evidence"],
      f.controls.map((c) => [
        `${c.ref} ${c.title}`,
        status(c.status),
        c.criterion,
        [
          ...c.evidence.map((e) => `${e.check ? `[${e.check}] ` : ""}${e.label}: ${String(e.value)}`),
          ...(c.reason ? [`(${c.reason})`] : []),
        ].join("\n"),
      ]),
      [120, 55, 120, "*"],
    );
  }

  heading(doc, "SBOM inventory");
  grid(
    doc,
    ["profile", "firmware", "components", "CycloneDX", "serial number", "imported"],
    r.sboms.map((x) => [
      x.profile ?? "(any)",
      x.firmwareVersion,
      String(x.components),
      x.specVersion,
      x.serialNumber ?? "-",
      x.importedAt,
    ]),
    [80, 55, 55, 50, "*", 95],
  );
  grid(
    doc,
    ["profile", "firmware in use", "devices"],
    r.fleet.firmware.map((x) => [x.profile, x.version, String(x.devices)]),
    ["*", "*", 60],
  );

  heading(doc, "About this report");
  for (const p of ABOUT_TEXT) paragraph(doc, p);

  // Page numbers, once every page exists.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font("Helvetica")
      .fontSize(7)
      .fillColor("#57606a")
      .text(
        `Vigil compliance report - ${r.generatedAt} - page ${i + 1} of ${range.count}`,
        doc.page.margins.left,
        doc.page.height - 28,
        {
          lineBreak: false,
        },
      );
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done;
}
