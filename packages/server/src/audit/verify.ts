import { iso } from "../core/index.js";
import { GENESIS_HASH, auditEntryHash, auditKeyId, verifyCheckpointSignature } from "../identity/index.js";
import type { AuditCheckpoint, AuditEntry, AuditReader } from "./ports.js";

export type AuditProblemKind =
  /** A seq is absent: entries were deleted. */
  | "missing"
  /** An entry's content no longer matches its hash. */
  | "edited"
  /** An entry sits at a seq it was not recorded at. */
  | "reordered"
  /** An entry's hash is self-consistent but does not follow its predecessor's: the predecessor was altered and re-hashed. */
  | "relinked"
  /** A signed checkpoint names a head the chain no longer has: the entries before it were rewritten. */
  | "rewritten"
  /** A signed checkpoint covers entries that are gone: the end of the log was cut off. */
  | "truncated"
  | "bad_signature"
  /** Signed by a key the log does not record, or whose record was altered. */
  | "unknown_key"
  /** Signed by a key other than the one(s) the verifier pinned. */
  | "unpinned_key";

export interface AuditProblem {
  readonly code: "AUDIT_CHAIN_BROKEN" | "AUDIT_SIGNATURE_INVALID";
  readonly kind: AuditProblemKind;
  /** The first entry that is (or may be) bad. */
  readonly seq: number;
  readonly message: string;
}

export interface AuditVerifyReport {
  readonly intact: boolean;
  /** Entries whose hash and link were checked and found good (all of them when intact). */
  readonly entries: number;
  /** Checkpoints whose signature verified and whose hash matched the chain. */
  readonly checkpoints: number;
  readonly head: { readonly seq: number; readonly hash: string } | null;
  readonly lastCheckpoint: { readonly seq: number; readonly at: string; readonly keyId: string } | null;
  /** Entries after the last good checkpoint: protected by the chain only, not yet by a signature. */
  readonly unsigned: number;
  /** Ids of the keys checkpoints were checked against. */
  readonly keys: readonly string[];
  readonly pinned: boolean;
  /** The first problem by seq (what `vigil audit verify` names), or null. */
  readonly problem: AuditProblem | null;
  readonly problems: readonly AuditProblem[];
}

export interface VerifyOptions {
  /**
   * Public keys (SPKI PEM) kept apart from the data directory. When given, only checkpoints
   * signed by one of them count: someone who can rewrite the database can also record a
   * key of their own and re-sign, and only a pinned key catches that.
   */
  readonly pinnedKeys?: readonly string[];
  readonly pageSize?: number;
}

const short = (id: string) => id.slice(0, 16);

/**
 * Recomputes the whole chain and checks every checkpoint, offline, from the read port.
 * Detects an edited entry, a deleted one (a gap, or a broken link when the rest was
 * renumbered), reordered entries, a rewritten chain (against a signed checkpoint) and a
 * cut-off end (a checkpoint beyond the last entry), and names the first bad seq.
 */
export async function verifyAuditLog(reader: AuditReader, options: VerifyOptions = {}): Promise<AuditVerifyReport> {
  const pageSize = options.pageSize ?? 1000;
  const problems: AuditProblem[] = [];

  // Which keys may sign: the pinned ones, or else those the log records (and whose id matches the key).
  const trusted = new Map<string, string>();
  const pinned = options.pinnedKeys !== undefined && options.pinnedKeys.length > 0;
  const recorded = new Map<string, string>();
  for (const k of await reader.keys()) {
    let id: string | undefined;
    try {
      id = auditKeyId(k.publicKey);
    } catch {
      id = undefined;
    }
    if (id === k.id) recorded.set(k.id, k.publicKey);
  }
  if (pinned) {
    for (const pem of options.pinnedKeys ?? []) trusted.set(auditKeyId(pem), pem);
  } else {
    for (const [id, pem] of recorded) trusted.set(id, pem);
  }

  const good: AuditCheckpoint[] = [];
  for (const c of await reader.checkpoints()) {
    const pem = trusted.get(c.keyId);
    if (pem === undefined) {
      problems.push({
        code: "AUDIT_SIGNATURE_INVALID",
        kind: pinned ? "unpinned_key" : "unknown_key",
        seq: c.seq,
        message: pinned
          ? `checkpoint at seq ${c.seq} is signed by key ${short(c.keyId)}, not by the key given with --public-key`
          : `checkpoint at seq ${c.seq} is signed by key ${short(c.keyId)}, which the log does not record (or whose record was altered)`,
      });
    } else if (!verifyCheckpointSignature(pem, c, c.signature)) {
      problems.push({
        code: "AUDIT_SIGNATURE_INVALID",
        kind: "bad_signature",
        seq: c.seq,
        message: `checkpoint at seq ${c.seq}: the signature does not verify with key ${short(c.keyId)} (the checkpoint was forged or altered)`,
      });
    } else {
      good.push(c);
    }
  }
  good.sort((a, b) => a.seq - b.seq);

  let expected = 1;
  let prevHash = GENESIS_HASH;
  let entries = 0;
  let checked = 0;
  let lastGood: AuditCheckpoint | undefined;
  let cp = 0;
  let head: { seq: number; hash: string } | null = null;
  let chainProblem: AuditProblem | undefined;

  walk: for (let from = Number.MIN_SAFE_INTEGER; ;) {
    const page = await reader.range(from, pageSize);
    if (page.length === 0) break;
    for (const row of page) {
      if (row.seq < 1) {
        chainProblem = {
          code: "AUDIT_CHAIN_BROKEN",
          kind: "reordered",
          seq: 1,
          message: `an entry sits at seq ${row.seq}, before the start of the log (entries were renumbered)`,
        };
        break walk;
      }
      if (row.seq !== expected) {
        chainProblem = {
          code: "AUDIT_CHAIN_BROKEN",
          kind: "missing",
          seq: expected,
          message:
            row.seq - expected === 1
              ? `entry ${expected} is missing: the log goes from seq ${expected - 1} to seq ${row.seq} (an entry was deleted)`
              : `entries ${expected}..${row.seq - 1} are missing: the log goes from seq ${expected - 1} to seq ${row.seq} (entries were deleted)`,
        };
        break walk;
      }
      if (auditEntryHash(row) !== row.hash) {
        chainProblem = await diagnoseContent(reader, row, pageSize);
        break walk;
      }
      if (row.prevHash !== prevHash) {
        chainProblem = await diagnoseLink(reader, row, pageSize);
        break walk;
      }
      while (cp < good.length && (good[cp] as AuditCheckpoint).seq <= row.seq) {
        const c = good[cp] as AuditCheckpoint;
        cp += 1;
        if (c.seq < row.seq) continue; // unreachable: seqs are contiguous here
        if (c.hash !== row.hash) {
          const from = (lastGood?.seq ?? 0) + 1;
          chainProblem = {
            code: "AUDIT_CHAIN_BROKEN",
            kind: "rewritten",
            seq: from,
            message: `entries ${from}..${c.seq} were rewritten: entry ${c.seq}'s hash differs from the one signed in the checkpoint of ${iso(c.at)} (the chain was recomputed after an edit, deletion or reordering somewhere in that range)`,
          };
          break walk;
        }
        lastGood = c;
        checked += 1;
      }
      entries += 1;
      prevHash = row.hash;
      head = { seq: row.seq, hash: row.hash };
      expected += 1;
    }
    from = (page.at(-1) as AuditEntry).seq + 1;
  }

  if (chainProblem === undefined) {
    const beyond = good.find((c) => c.seq > (head?.seq ?? 0));
    if (beyond !== undefined) {
      const from = (head?.seq ?? 0) + 1;
      chainProblem = {
        code: "AUDIT_CHAIN_BROKEN",
        kind: "truncated",
        seq: from,
        message: `entries from seq ${from} on were deleted: the checkpoint of ${iso(beyond.at)} covers the log up to seq ${beyond.seq}`,
      };
    }
  } else {
    head = (await reader.last()) ?? null;
  }
  if (chainProblem !== undefined) problems.push(chainProblem);
  // The first bad seq wins; at equal seqs a broken chain is named before a bad signature.
  problems.sort((a, b) => a.seq - b.seq || (a.code === b.code ? 0 : a.code === "AUDIT_CHAIN_BROKEN" ? -1 : 1));

  return {
    intact: problems.length === 0,
    entries,
    checkpoints: checked,
    head: head === null ? null : { seq: head.seq, hash: head.hash },
    lastCheckpoint: lastGood === undefined ? null : { seq: lastGood.seq, at: iso(lastGood.at), keyId: lastGood.keyId },
    unsigned: problems.length === 0 ? entries - (lastGood?.seq ?? 0) : 0,
    keys: [...trusted.keys()],
    pinned,
    problem: problems[0] ?? null,
    problems,
  };
}

async function* everyEntry(reader: AuditReader, pageSize: number): AsyncGenerator<AuditEntry> {
  for (let from = Number.MIN_SAFE_INTEGER; ;) {
    const page = await reader.range(from, pageSize);
    if (page.length === 0) return;
    yield* page;
    from = (page.at(-1) as AuditEntry).seq + 1;
  }
}

/**
 * `row`'s content does not match its hash. Failure path only, one pass over the log: if its
 * content hashes correctly at another seq, the entries were reordered (whole rows moved, or
 * only their content); otherwise it was edited.
 */
async function diagnoseContent(reader: AuditReader, row: AuditEntry, pageSize: number): Promise<AuditProblem> {
  for await (const other of everyEntry(reader, pageSize)) {
    if (other.seq === row.seq) continue;
    if (auditEntryHash({ ...row, seq: other.seq }) === row.hash) {
      return {
        code: "AUDIT_CHAIN_BROKEN",
        kind: "reordered",
        seq: row.seq,
        message: `entry ${row.seq} is out of order: the entry at seq ${row.seq} was recorded as seq ${other.seq} (entries were reordered)`,
      };
    }
    if (auditEntryHash({ ...row, seq: other.seq, prevHash: other.prevHash }) === other.hash) {
      return {
        code: "AUDIT_CHAIN_BROKEN",
        kind: "reordered",
        seq: row.seq,
        message: `entry ${row.seq} is out of order: it holds the content recorded at seq ${other.seq} (entries were reordered)`,
      };
    }
  }
  return {
    code: "AUDIT_CHAIN_BROKEN",
    kind: "edited",
    seq: row.seq,
    message: `entry ${row.seq} was altered: its content no longer matches its recorded hash`,
  };
}

/** `row` is self-consistent but does not follow the entry before it. */
async function diagnoseLink(reader: AuditReader, row: AuditEntry, pageSize: number): Promise<AuditProblem> {
  for await (const other of everyEntry(reader, pageSize)) {
    if (other.hash === row.prevHash && other.seq !== row.seq - 1) {
      return {
        code: "AUDIT_CHAIN_BROKEN",
        kind: "reordered",
        seq: row.seq,
        message: `entry ${row.seq} is out of order: it was recorded after the entry now at seq ${other.seq}, not after entry ${row.seq - 1}`,
      };
    }
  }
  if (row.seq === 1) {
    return {
      code: "AUDIT_CHAIN_BROKEN",
      kind: "relinked",
      seq: 1,
      message: "entry 1 does not start the chain: entries before it were removed and the rest renumbered",
    };
  }
  return {
    code: "AUDIT_CHAIN_BROKEN",
    kind: "relinked",
    seq: row.seq - 1,
    message: `entry ${row.seq} does not follow entry ${row.seq - 1}: entry ${row.seq - 1} was altered and its hash recomputed, or replaced`,
  };
}
