import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, chmodSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isVigilError } from "../core/index.js";
import { lockDataDir, prepareDataDir } from "./data-dir.js";

const base = mkdtempSync(join(tmpdir(), "vigil-datadir-"));
const isRoot = process.getuid?.() === 0;

test("creates the data directory with mode 0700, and tightens a group/world-readable one", async () => {
  const dir = join(base, "nested", "data");
  await prepareDataDir(dir);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  chmodSync(dir, 0o755);
  assert.deepEqual(await prepareDataDir(dir), { tightened: true });
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test("a data directory owned by another user is refused", async () => {
  // As root, hand a directory to nobody (65534); as anyone else, "/" is root's.
  let dir = "/";
  if (isRoot) {
    dir = join(base, "someone-elses");
    mkdirSync(dir);
    chownSync(dir, 65534, 65534);
  }
  await assert.rejects(
    prepareDataDir(dir),
    (e: unknown) => isVigilError(e, "DATA_DIR_UNUSABLE") && /owned by uid/.test(e.message),
  );
});

test("a path that is a file is refused", async () => {
  const file = join(base, "a-file");
  writeFileSync(file, "x");
  await assert.rejects(
    prepareDataDir(file),
    (e: unknown) => isVigilError(e, "DATA_DIR_UNUSABLE") && /exists and is not a directory/.test(e.message),
  );
});

test("a read-only data directory is refused with a clear error", async () => {
  // Root ignores permission bits, so as root the check runs in a child that drops to nobody.
  const dir = join(base, "read-only");
  mkdirSync(dir, { mode: 0o500 });
  chmodSync(dir, 0o500);
  if (!isRoot) {
    await assert.rejects(
      prepareDataDir(dir),
      (e: unknown) => isVigilError(e, "DATA_DIR_UNUSABLE") && /not writable/.test(e.message),
    );
    return;
  }
  chownSync(dir, 65534, 65534);
  chmodSync(base, 0o755);
  const script = `import { prepareDataDir } from ${JSON.stringify(new URL("./data-dir.ts", import.meta.url).pathname)};
    prepareDataDir(${JSON.stringify(dir)}).then(() => console.log("ACCEPTED"), (e) => console.log(e.code + " " + e.message));`;
  const tsx = new URL("../../../../node_modules/tsx/dist/esm/index.mjs", import.meta.url).href;
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=vigil-source", "--import", tsx, "--input-type=module", "-e", script], {
      uid: 65534,
      gid: 65534,
      cwd: "/",
      env: { PATH: process.env.PATH ?? "", HOME: "/tmp" },
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
  assert.match(output, /DATA_DIR_UNUSABLE .*not writable \(EACCES\)/);
});

test("a second lock on the same data directory is refused while the first is held, and free after release", async () => {
  const dir = join(base, "locked");
  await prepareDataDir(dir);
  // A live node process other than us holds the lock.
  const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
  writeFileSync(join(dir, "vigil.lock"), `${holder.pid}\n`);
  try {
    assert.throws(
      () => lockDataDir(dir),
      (e: unknown) => isVigilError(e, "DATA_DIR_LOCKED") && e.message.includes(String(holder.pid)),
    );
  } finally {
    holder.kill("SIGKILL");
    await new Promise((r) => holder.on("exit", r));
  }
  // Its holder is gone (kill -9): the stale lock is taken over.
  const lock = lockDataDir(dir);
  assert.equal(readFileSync(join(dir, "vigil.lock"), "utf8").trim(), String(process.pid));
  lock.release();
  assert.equal(existsSync(join(dir, "vigil.lock")), false);
});
