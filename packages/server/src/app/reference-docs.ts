import { errorCatalogue, type ErrorCode } from "@vigil/contract";
import { httpStatusOf } from "../api/http-errors.js";
import { signalDescriptions, type SignalName } from "../signals/index.js";
import { renderEventsDoc } from "../response/index.js";
import { renderConfigDoc } from "./config.js";

/**
 * docs/ files generated from the code's own tables, so that they cannot drift: a test
 * regenerates each and compares it with the committed file (`npm run docs` rewrites them).
 */
export function renderErrorsDoc(): string {
  const rows = (Object.keys(errorCatalogue) as ErrorCode[]).map(
    (code) => `| \`${code}\` | ${errorCatalogue[code].owner} | ${httpStatusOf[code] ?? "—"} | ${errorCatalogue[code].meaning} |`,
  );
  return [
    "# Error codes",
    "",
    "<!-- Generated from packages/contract/src/errors.ts by `npm run docs`; a test fails when this file is stale. -->",
    "",
    "Every error Vigil reports on purpose carries one of these stable codes, a message saying what",
    "happened and, where there is one, a hint saying what to do next. The HTTP API sends them as",
    '`{"error": {"code", "message", "hint", "requestId"}}`; the CLI prints `vigil: CODE: message`',
    "followed by the hint, and exits 2 for configuration errors, 1 for the rest. Errors Vigil did",
    "not expect become `INTERNAL` (HTTP 500): they are logged with the request id and never echoed.",
    "",
    "| code | owner | HTTP status | meaning |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

export function renderSignalsDoc(): string {
  const rows = (Object.keys(signalDescriptions) as SignalName[]).map((name) => `| \`${name}\` | ${signalDescriptions[name]} |`);
  return [
    "# Security signals",
    "",
    "<!-- Generated from packages/server/src/signals/catalogue.ts by `npm run docs`; a test fails when this file is stale. -->",
    "",
    "Modules talk through typed facts on one bus: dotted, past-tense names. Each signal is counted",
    "in `/metrics` as `vigil_signals_total{signal=...}`.",
    "",
    "| signal | meaning |",
    "|---|---|",
    ...rows,
    "",
  ].join("\n");
}

export const referenceDocs: Record<string, () => string> = {
  "docs/config.md": renderConfigDoc,
  "docs/errors.md": renderErrorsDoc,
  "docs/signals.md": renderSignalsDoc,
  "docs/events.md": renderEventsDoc,
};
