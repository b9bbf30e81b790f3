// The engine-neutral repository suite against SQLite temp files (one file per test).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { repositorySuite } from "../repository-suite.js";
import { openSqliteStore } from "./sqlite-store.js";

const log = pino({ level: "silent" });

repositorySuite("sqlite", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "vigil-suite-")), "vigil.db");
  const store = openSqliteStore(file, log);
  return {
    store,
    exec: async (sql: string) => {
      const raw = new Database(file);
      try {
        raw.pragma("busy_timeout = 5000");
        raw.exec(sql);
      } finally {
        raw.close();
      }
    },
    reopen: async () => {
      await store.close();
      return openSqliteStore(file, log);
    },
  };
});
