import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { InProcessBus, ManualClock, type Millis } from "../core/index.js";
import { auditEntryHash, auditKeyId, generateAuditSigningKey, loadAuditSigningKey } from "../identity/index.js";
import type { SignalMap } from "../signals/index.js";
import { AuditLog } from "./audit-log.js";
import { MemoryAuditRepository } from "./memory-audit-repository.js";
import type { AuditEntry } from "./ports.js";
import { verifyAuditLog } from "./verify.js";

/** A real log of `n` entries (the key entry included) with a checkpoint every 5, stopped cleanly. */
async function recordedLog(n = 20): Promise<{ repo: MemoryAuditRepository; publicKey: string }> {
  const repo = new MemoryAuditRepository();
  const bus = new InProcessBus<SignalMap>();
  let pem: string | undefined;
  const audit = new AuditLog({
    repository: repo,
    bus,
    clock: new ManualClock(),
    log: pino({ level: "silent" }),
    keys: {
      location: "memory",
      load: async () => pem,
      save: async (p) => {
        pem = p;
      },
    },
    checkpointEvery: 5,
  });
  await audit.start();
  for (let i = 2; i <= n; i++) bus.emit("device.registered", { device: `dev-${i}`, profile: "sensor", by: "admin" });
  await audit.stop();
  assert.equal(repo.entries.length, n);
  return { repo, publicKey: loadAuditSigningKey(pem ?? "", "memory").publicKeyPem };
}

const at = (repo: MemoryAuditRepository, seq: number) => repo.entries.findIndex((e) => e.seq === seq);

/** Replaces the entry at `seq` with the result of `change`. */
function edit(repo: MemoryAuditRepository, seq: number, change: (e: AuditEntry) => AuditEntry): void {
  const i = at(repo, seq);
  repo.entries[i] = change(repo.entries[i] as AuditEntry);
}

/** What a careful attacker does after an edit: recompute every hash from `seq` on. */
function rehashFrom(repo: MemoryAuditRepository, seq: number): void {
  repo.entries.sort((a, b) => a.seq - b.seq);
  for (let i = at(repo, seq); i < repo.entries.length; i++) {
    const prevHash = i === 0 ? "0".repeat(64) : (repo.entries[i - 1] as AuditEntry).hash;
    const e = { ...(repo.entries[i] as AuditEntry), prevHash };
    repo.entries[i] = { ...e, hash: auditEntryHash(e) };
  }
}

test("an untouched log verifies: every entry and checkpoint, nothing unsigned after a clean stop", async () => {
  const { repo } = await recordedLog();
  const report = await verifyAuditLog(repo, { pageSize: 7 });
  assert.equal(report.intact, true, JSON.stringify(report.problems));
  assert.equal(report.entries, 20);
  assert.deepEqual(report.head, { seq: 20, hash: repo.entries[19]?.hash });
  assert.equal(report.checkpoints, 4);
  assert.equal(report.lastCheckpoint?.seq, 20);
  assert.equal(report.unsigned, 0);
  assert.equal(report.problem, null);
});

test("an empty log verifies as empty", async () => {
  const report = await verifyAuditLog(new MemoryAuditRepository());
  assert.equal(report.intact, true);
  assert.equal(report.entries, 0);
  assert.equal(report.head, null);
});

test("(1) an edited entry is named: the first bad seq is the edited one", async () => {
  const { repo } = await recordedLog();
  edit(repo, 7, (e) => ({ ...e, details: e.details.replace("dev-7", "dev-X") }));
  const report = await verifyAuditLog(repo);
  assert.equal(report.intact, false);
  assert.deepEqual([report.problem?.code, report.problem?.kind, report.problem?.seq], ["AUDIT_CHAIN_BROKEN", "edited", 7]);
  assert.equal(report.entries, 6, "the six before it are good");
  assert.match(report.problem?.message ?? "", /entry 7 was altered/);
});

test("(1b) an edited actor, time or outcome is caught the same way", async () => {
  for (const change of [
    (e: AuditEntry) => ({ ...e, actor: "someone-else" }),
    (e: AuditEntry) => ({ ...e, at: (e.at + 1) as Millis }),
    (e: AuditEntry) => ({ ...e, outcome: "failure" }),
    (e: AuditEntry) => ({ ...e, target: null }),
  ]) {
    const { repo } = await recordedLog(8);
    edit(repo, 3, change);
    assert.equal((await verifyAuditLog(repo)).problem?.seq, 3);
  }
});

test("(2) a deleted entry is named: the gap's first missing seq", async () => {
  const { repo } = await recordedLog();
  repo.entries.splice(at(repo, 12), 1);
  const report = await verifyAuditLog(repo);
  assert.deepEqual([report.problem?.code, report.problem?.kind, report.problem?.seq], ["AUDIT_CHAIN_BROKEN", "missing", 12]);
  assert.match(report.problem?.message ?? "", /entry 12 is missing: the log goes from seq 11 to seq 13/);

  const { repo: several } = await recordedLog();
  several.entries = several.entries.filter((e) => e.seq < 4 || e.seq > 6);
  assert.match((await verifyAuditLog(several)).problem?.message ?? "", /entries 4\.\.6 are missing/);
});

test("(2b) a deleted entry with the rest renumbered is still caught at that seq", async () => {
  const { repo } = await recordedLog();
  repo.entries = repo.entries.filter((e) => e.seq !== 12).map((e) => (e.seq > 12 ? { ...e, seq: e.seq - 1 } : e));
  const report = await verifyAuditLog(repo);
  assert.equal(report.problem?.code, "AUDIT_CHAIN_BROKEN");
  assert.equal(report.problem?.seq, 12);
});

test("(3) reordered entries are named: the lower of the swapped seqs, whole rows or content only", async () => {
  const { repo } = await recordedLog();
  const [i4, i9] = [at(repo, 4), at(repo, 9)];
  repo.entries[i4] = { ...(repo.entries[i4] as AuditEntry), seq: 9 };
  repo.entries[i9] = { ...(repo.entries[i9] as AuditEntry), seq: 4 };
  const rows = await verifyAuditLog(repo);
  assert.deepEqual([rows.problem?.kind, rows.problem?.seq], ["reordered", 4]);
  assert.match(rows.problem?.message ?? "", /entry 4 is out of order: the entry at seq 4 was recorded as seq 9/);

  const { repo: content } = await recordedLog();
  const a = content.entries[at(content, 4)] as AuditEntry;
  const b = content.entries[at(content, 5)] as AuditEntry;
  // Every recorded column moves except seq and the two hashes.
  const moved = (from: AuditEntry, into: AuditEntry): AuditEntry => ({
    ...from,
    seq: into.seq,
    prevHash: into.prevHash,
    hash: into.hash,
  });
  content.entries[at(content, 4)] = moved(b, a);
  content.entries[at(content, 5)] = moved(a, b);
  const swapped = await verifyAuditLog(content);
  assert.deepEqual([swapped.problem?.kind, swapped.problem?.seq], ["reordered", 4]);
  assert.match(swapped.problem?.message ?? "", /holds the content recorded at seq 5/);
});

test("an edit hidden by recomputing the chain is caught by the next signed checkpoint", async () => {
  const { repo } = await recordedLog();
  edit(repo, 7, (e) => ({ ...e, actor: "nobody" }));
  rehashFrom(repo, 7);
  const report = await verifyAuditLog(repo);
  assert.deepEqual([report.problem?.code, report.problem?.kind, report.problem?.seq], ["AUDIT_CHAIN_BROKEN", "rewritten", 6]);
  assert.match(report.problem?.message ?? "", /entries 6\.\.10 were rewritten/);
  assert.equal(report.checkpoints, 1, "the checkpoint at 5 still holds");
});

test("an edited entry re-hashed alone breaks the link to the next one", async () => {
  const { repo } = await recordedLog();
  edit(repo, 7, (e) => {
    const changed = { ...e, actor: "nobody" };
    return { ...changed, hash: auditEntryHash(changed) };
  });
  const report = await verifyAuditLog(repo);
  assert.deepEqual([report.problem?.kind, report.problem?.seq], ["relinked", 7]);
});

test("a cut-off end is caught by a checkpoint beyond the last entry", async () => {
  const { repo } = await recordedLog();
  repo.entries = repo.entries.filter((e) => e.seq <= 17);
  const report = await verifyAuditLog(repo);
  assert.deepEqual([report.problem?.kind, report.problem?.seq], ["truncated", 18]);
});

test("a forged checkpoint signature is AUDIT_SIGNATURE_INVALID at its seq", async () => {
  const { repo } = await recordedLog();
  const i = repo.checkpointRows.findIndex((c) => c.seq === 10);
  const cp = repo.checkpointRows[i];
  assert.ok(cp);
  const flipped = Buffer.from(cp.signature, "base64");
  flipped[0] = (flipped[0] ?? 0) ^ 1;
  repo.checkpointRows[i] = { ...cp, signature: flipped.toString("base64") };
  const report = await verifyAuditLog(repo);
  assert.deepEqual(
    [report.problem?.code, report.problem?.kind, report.problem?.seq],
    ["AUDIT_SIGNATURE_INVALID", "bad_signature", 10],
  );

  // Moving a genuine checkpoint to claim another head does not verify either.
  const { repo: moved } = await recordedLog();
  const c15 = moved.checkpointRows.find((c) => c.seq === 15);
  assert.ok(c15);
  moved.checkpointRows = moved.checkpointRows.map((c) =>
    c.seq === 15 ? { ...c, hash: moved.entries[13]?.hash ?? "", seq: 14 } : c,
  );
  assert.deepEqual(
    [(await verifyAuditLog(moved)).problem?.kind, (await verifyAuditLog(moved)).problem?.seq],
    ["bad_signature", 14],
  );
});

test("a substituted key: undetectable from the database alone, caught when the verifier pins the real public key", async () => {
  const { repo, publicKey } = await recordedLog();
  // The attacker rewrites entry 7, recomputes the chain, records a key of their own and re-signs.
  edit(repo, 7, (e) => ({ ...e, actor: "nobody" }));
  rehashFrom(repo, 7);
  const forged = generateAuditSigningKey();
  const key = loadAuditSigningKey(forged.privateKeyPem, "attacker");
  repo.keyRows = [{ id: key.keyId, algorithm: "ed25519", publicKey: forged.publicKeyPem, createdAt: 0 as Millis }];
  repo.checkpointRows = repo.checkpointRows.map((c) => {
    const hash = repo.entries[c.seq - 1]?.hash ?? "";
    return { ...c, hash, keyId: key.keyId, signature: key.signCheckpoint({ seq: c.seq, hash, at: c.at }) };
  });
  assert.equal((await verifyAuditLog(repo)).intact, true, "the limit of a self-contained log");
  const pinned = await verifyAuditLog(repo, { pinnedKeys: [publicKey] });
  assert.deepEqual(
    [pinned.problem?.code, pinned.problem?.kind, pinned.problem?.seq],
    ["AUDIT_SIGNATURE_INVALID", "unpinned_key", 5],
  );
  assert.equal(pinned.pinned, true);
  // And the genuine log passes with the pin.
  assert.equal(
    (await verifyAuditLog((await recordedLog()).repo, { pinnedKeys: [publicKey] })).intact,
    false,
    "another log, another key",
  );
});

test("a pinned key verifies its own log", async () => {
  const { repo, publicKey } = await recordedLog();
  const report = await verifyAuditLog(repo, { pinnedKeys: [publicKey] });
  assert.equal(report.intact, true);
  assert.deepEqual(report.keys, [auditKeyId(publicKey)]);
});

test("a key record whose public key was swapped under the same id is not trusted", async () => {
  const { repo } = await recordedLog();
  repo.keyRows = repo.keyRows.map((k) => ({ ...k, publicKey: generateAuditSigningKey().publicKeyPem }));
  const report = await verifyAuditLog(repo);
  assert.deepEqual([report.problem?.kind, report.problem?.seq], ["unknown_key", 5]);
});
