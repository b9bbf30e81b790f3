import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { AuditListResponse } from "@vigil/contract";
import { verifyAuditLog, type AuditVerifyReport } from "../audit/index.js";
import { VigilError } from "../core/index.js";
import { auditKeyId } from "../identity/index.js";
import { openPostgresAuditSnapshot, openSqliteAuditSnapshot } from "../store/index.js";
import { callApi, type ApiTarget } from "./client.js";
import { printPairs, printTable } from "./output.js";

/** What the audit commands need from the CLI's main file. */
export interface AuditCliContext {
  /** The API of the Vigil at `dataDir` (or --server), with the CLI's token. */
  api(dataDir?: string): Promise<ApiTarget>;
  /** True when the global --json was given. */
  json(): boolean;
}

const short = (hash: string) => `${hash.slice(0, 16)}…`;

export function registerAuditCommands(program: Command, ctx: AuditCliContext): void {
  const audit = program.command("audit").description("Read and verify the tamper-evident audit log.");

  audit
    .command("verify")
    .description(
      "Check the audit log offline, from the database file (Vigil may be running or not): recompute the hash chain and every checkpoint signature. Exit 0 when intact, 1 when tampered.",
    )
    .option("--data-dir <dir>", "data directory of the Vigil whose log to check (default ./vigil-data)")
    .option(
      "--public-key <file>",
      "trust only checkpoints signed by this public key (PEM, kept apart from the data directory); repeat for rotated keys",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      "--store-url <url>",
      "check the log in this PostgreSQL database instead of a data directory (default $VIGIL_STORE_URL when $VIGIL_STORE_ENGINE is postgres)",
    )
    .option("--json", "print the report as JSON")
    .action(async (o: { dataDir?: string; storeUrl?: string; publicKey?: string[]; json?: boolean }) => {
      const json = o.json === true || ctx.json();
      const pinnedKeys = await readPublicKeys(o.publicKey ?? []);
      const storeUrl = o.storeUrl ?? (process.env.VIGIL_STORE_ENGINE === "postgres" ? process.env.VIGIL_STORE_URL : undefined);
      let report: AuditVerifyReport;
      if (storeUrl !== undefined) {
        // One REPEATABLE READ, READ ONLY snapshot next to the running nodes.
        const snapshot = await openPostgresAuditSnapshot(storeUrl);
        try {
          report = await verifyAuditLog(snapshot.reader, { pinnedKeys });
        } finally {
          await snapshot.close();
        }
      } else {
        const dataDir = resolve(o.dataDir ?? process.env.VIGIL_DATA_DIR ?? "./vigil-data");
        const snapshot = openSqliteAuditSnapshot(join(dataDir, "vigil.db"));
        try {
          report = await verifyAuditLog(snapshot.reader, { pinnedKeys });
        } finally {
          snapshot.close();
        }
      }
      process.stdout.write(`${json ? JSON.stringify(report, null, 2) : human(report)}\n`);
      if (report.problem !== null) {
        throw new VigilError(report.problem.code, `first bad entry: seq ${report.problem.seq}: ${report.problem.message}`, {
          hint: "Do not trust entries from that seq on. Keep this database as evidence, compare it with a backup, and find out who had write access to the data directory.",
          details: { problem: report.problem },
        });
      }
    });

  audit
    .command("list")
    .description("Show audit entries through the API (the newest --limit by default, oldest first).")
    .option("--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)")
    .option("--after <seq>", "show the entries after this seq instead of the newest")
    .option("--limit <n>", "number of entries", "20")
    .option("--json", "print JSON")
    .action(async (o: { dataDir?: string; after?: string; limit: string; json?: boolean }) => {
      const json = o.json === true || ctx.json();
      const t = await ctx.api(o.dataDir);
      const limit = Number(o.limit);
      let after = o.after === undefined ? undefined : Number(o.after);
      if (after === undefined) {
        const probe = await callApi<AuditListResponse>(t, "GET", "/api/v1/audit?limit=1");
        after = Math.max(0, probe.data.head - (Number.isInteger(limit) && limit > 0 ? limit : 0));
      }
      const query = new URLSearchParams({ after: String(after), limit: o.limit });
      const { data } = await callApi<AuditListResponse>(t, "GET", `/api/v1/audit?${query.toString()}`);
      if (json) {
        process.stdout.write(`${JSON.stringify(data.items, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${
          data.items.length === 0
            ? "No audit entries."
            : printTable(
                data.items.map((e) => ({ ...e, details: JSON.stringify(e.details) })),
                ["seq", "at", "actor", "action", "target", "outcome", "details"],
              )
        }\n`,
      );
    });
}

async function readPublicKeys(files: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const file of files) {
    let pem: string;
    try {
      pem = await readFile(file, "utf8");
      auditKeyId(pem);
    } catch (error) {
      throw new VigilError("AUDIT_KEY_INVALID", `--public-key ${file} is not a readable PEM public key`, {
        cause: error,
        hint: "Give the audit-signing.pub.pem copied from <data-dir>/keys/ when the log was set up.",
      });
    }
    keys.push(pem);
  }
  return keys;
}

function human(r: AuditVerifyReport): string {
  const keyNote = r.pinned ? "(pinned with --public-key)" : "(as recorded in the database; pin with --public-key)";
  if (r.problem === null) {
    return [
      `Audit log intact: ${r.entries} entries and ${r.checkpoints} signed checkpoints verified.`,
      printPairs([
        ["head", r.head === null ? "empty log" : `seq ${r.head.seq}, ${short(r.head.hash)}`],
        [
          "last checkpoint",
          r.lastCheckpoint === null
            ? "none yet"
            : `seq ${r.lastCheckpoint.seq}, signed ${r.lastCheckpoint.at} by key ${short(r.lastCheckpoint.keyId)}`,
        ],
        ["unsigned tail", `${r.unsigned} entries after the last checkpoint (chained, not yet signed)`],
        ["keys", `${r.keys.map(short).join(", ") || "none"} ${keyNote}`],
      ]),
    ].join("\n");
  }
  return [
    `Audit log TAMPERED: first bad entry is seq ${r.problem.seq}.`,
    ...r.problems.map((p) => `  - ${p.message}`),
    printPairs([
      ["verified before it", `${r.entries} entries, ${r.checkpoints} checkpoints`],
      ["head", r.head === null ? "empty log" : `seq ${r.head.seq}`],
      ["keys", `${r.keys.map(short).join(", ") || "none"} ${keyNote}`],
    ]),
  ].join("\n");
}
