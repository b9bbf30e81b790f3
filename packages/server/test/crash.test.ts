import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { ApiError, callApi, type ApiTarget } from "../src/cli/client.js";
import { firstLogin, startDaemon, tempDir, waitForExit } from "./support.js";

const work = tempDir("vigil-crash-");
after(() => work.remove());

/**
 * Kill -9 during writes, then `vigil up` again, three times over: the store opens, the stale
 * lock is taken over, migrations stay applied once, and every write the API acknowledged
 * (201) is there. Writes in flight at the kill may or may not have landed; none may be lost
 * once acknowledged.
 */
test("kill -9 during writes loses nothing acknowledged; restart reopens the same store", async () => {
  const dataDir = join(work.path, "data");
  const acknowledged = new Set<string>();
  let password: string | undefined;
  let newPassword = "";
  let migrationRows: number | undefined;
  let token = "";
  let recoveryCodes: string[] = [];

  for (let round = 0; round < 3; round++) {
    const daemon = await startDaemon(["--data-dir", dataDir, "--http-port", "0", "--log-level", "warn"]);
    const anonymous: ApiTarget = { url: daemon.url, ca: readFileSync(daemon.caFile, "utf8") };
    if (round === 0) {
      password = daemon.password;
      assert.ok(password);
      newPassword = "crash test passphrase 0";
      const first = await firstLogin(anonymous, { username: "admin", oneTimePassword: password, newPassword, now: Date.now });
      token = first.token;
      recoveryCodes = first.recoveryCodes;
    } else {
      assert.equal(daemon.password, undefined, "no second bootstrap after a crash");
    }
    // The token issued before the kill still works after it (tokens are stored, hashed).
    const admin = { ...anonymous, token };

    // Everything acknowledged so far survived the previous kill.
    const present = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: { data: { items: { id: string }[]; next: string | null } } = await callApi(
        admin,
        "GET",
        `/api/v1/devices?limit=1000${cursor ? `&after=${cursor}` : ""}`,
      );
      for (const d of page.data.items) present.add(d.id);
      cursor = page.data.next;
    } while (cursor !== null);
    const lost = [...acknowledged].filter((id) => !present.has(id));
    assert.deepEqual(lost, [], `round ${round}: acknowledged devices lost after kill -9`);

    // Write from 8 concurrent clients; kill -9 the daemon while they are at it.
    let stop = false;
    let n = 0;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      while (!stop) {
        const id = `r${round}-w${w}-${n++}`;
        try {
          const res = await callApi(admin, "POST", "/api/v1/devices", { id, profile: "crash" });
          if (res.status === 201) acknowledged.add(id);
        } catch (error) {
          if (error instanceof ApiError) throw error; // the server refused: a real failure
          return; // connection cut by the kill
        }
      }
    });
    const target = acknowledged.size + 150;
    const deadline = Date.now() + 15_000;
    while (acknowledged.size < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    daemon.child.kill("SIGKILL");
    stop = true;
    await Promise.all(writers);
    assert.equal(await waitForExit(daemon.child), null);
    assert.ok(acknowledged.size >= target - 150 + 1, "writes were acknowledged before the kill");

    // Migrations are applied once, however often the daemon is killed and restarted.
    const db = new Database(join(dataDir, "vigil.db"), { readonly: true, fileMustExist: true });
    const rows = (db.prepare("SELECT COUNT(*) AS n FROM schema_migrations").get() as { n: number }).n;
    db.close();
    migrationRows ??= rows;
    assert.equal(rows, migrationRows);
  }

  // Final restart: the store is intact and a clean stop still works.
  const last = await startDaemon(["--data-dir", dataDir, "--http-port", "0", "--log-level", "warn"]);
  const anonymous: ApiTarget = { url: last.url, ca: readFileSync(last.caFile, "utf8") };
  const admin = {
    ...anonymous,
    token: (
      await callApi<{ token: string }>(anonymous, "POST", "/api/v1/auth/login", {
        username: "admin",
        password: newPassword,
        recoveryCode: recoveryCodes[0],
      })
    ).data.token,
  };
  const status = await callApi<{ counts: { devices: number } }>(admin, "GET", "/api/v1/status");
  assert.ok(status.data.counts.devices >= acknowledged.size);
  last.child.kill("SIGTERM");
  assert.equal(await waitForExit(last.child), 0);
  writeFileSync(join(work.path, "acknowledged.txt"), [...acknowledged].join("\n"));
});
