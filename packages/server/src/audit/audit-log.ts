import {
  GENESIS_HASH,
  auditEntryHash,
  generateAuditSigningKey,
  loadAuditSigningKey,
  type AuditSigningKey,
  type SigningKeyStore,
} from "../identity/index.js";
import { isVigilError, type Clock, type Logger, type Millis, type Service } from "../core/index.js";
import type { DrillRegistry, SignalBus } from "../signals/index.js";
import { auditDetails, describeSignal, type AuditFacts } from "./describe.js";
import type { AuditCheckpoint, AuditEntry, AuditRepository } from "./ports.js";

export interface AuditLogDeps {
  readonly repository: AuditRepository;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  /** Where the Ed25519 checkpoint key lives (sealed in the key vault). */
  readonly keys: SigningKeyStore;
  /** Sign a checkpoint whenever `seq` is a multiple of this (and on every clean stop). */
  readonly checkpointEvery: number;
  /** When false, nothing is recorded (reads still work). */
  readonly enabled?: boolean;
  /** The longest an entry waits in memory before it is written. */
  readonly flushIntervalMs?: number;
  /** Entries per write transaction. */
  readonly maxBatch?: number;
  /**
   * The most entries held in memory while writes lag (a flood, a stalled disk). Beyond it
   * entries are counted, not kept, and the count is recorded as `audit.entries_dropped` as
   * soon as there is room again: memory stays bounded and the loss is itself in the chain.
   */
  readonly maxQueue?: number;
  /** Drills in progress: entries about their devices carry `details.drill` (the drill's id). */
  readonly drills?: DrillRegistry;
}

/** An entry before it has a place in the chain. */
interface Pending extends AuditFacts {
  readonly at: Millis;
  readonly action: string;
  readonly details: string;
}

export interface AuditPage {
  readonly items: AuditEntry[];
  /** The cursor (a seq) for the next page, or null when this was the last. */
  readonly next: number | null;
  /** The seq of the newest entry, 0 when the log is empty. */
  readonly head: number;
}

const DEFAULT_FLUSH_MS = 20;
const DEFAULT_MAX_BATCH = 500;
const RETRY_MS = 1000;
const DEFAULT_MAX_QUEUE = 100_000;
/** Times one drain continues the chain after another node's appends before it gives up (and retries later). */
const MAX_REBASES = 50;

/**
 * The tamper-evident audit log: every signal on the bus, plus the log's own key events,
 * appended to a SHA-256 hash chain, with an Ed25519-signed checkpoint every
 * `checkpointEvery` entries and on every clean stop.
 *
 * Recording never blocks the emitter: the bus handler only takes a snapshot of the signal
 * into an in-memory queue, in emission order. The queue is written in batches, one
 * transaction each, at most `flushIntervalMs` (20 ms) after the first queued entry, on
 * `flush()` and on `stop()`. Contract: a crash (kill -9, power loss) loses at most the
 * entries still queued, i.e. those of the last ~20 ms; whatever was written survives a
 * crash of Vigil (SQLite WAL; with `store.synchronous: full` also a power loss) and its
 * chain is intact. Acknowledged operator actions lose nothing: the API calls `commit()` before
 * it answers any request that may change state (api/http-server.ts), so a change the caller
 * was told about has its entry committed (kill -9 loop: test/reliability/crash-loop.test.ts).
 */
export class AuditLog implements Service {
  readonly name = "audit";
  readonly #d: AuditLogDeps;
  #queue: Pending[] = [];
  #head: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  #lastCheckpoint = 0;
  #key: AuditSigningKey | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The end of the chain of flushes: one writer at a time, in order. */
  #writing: Promise<void> = Promise.resolve();
  #failing = false;
  #dropped: { count: number; firstAt: Millis; lastAt: Millis } | undefined;
  /** The shared write of the callers of `commit()` in this event-loop turn. */
  #committing: Promise<void> | undefined;

  constructor(deps: AuditLogDeps) {
    this.#d = deps;
  }

  get enabled(): boolean {
    return this.#d.enabled !== false;
  }

  /** The key id that signs checkpoints (after start). */
  get keyId(): string | undefined {
    return this.#key?.keyId;
  }

  async start(_signal?: AbortSignal): Promise<void> {
    if (!this.enabled) {
      this.#d.log.warn("the audit log is disabled (audit.enabled=false): nothing is recorded");
      return;
    }
    const repo = this.#d.repository;
    const last = await repo.last();
    if (last !== undefined) this.#head = { seq: last.seq, hash: last.hash };
    this.#lastCheckpoint = (await repo.checkpoints()).at(-1)?.seq ?? 0;
    await this.#loadKey();
    this.#unsubscribe = this.#d.bus.onAny((name, payload) => {
      // Runs inside emit(): a snapshot and a push, no I/O.
      const drill = this.#d.drills?.drillOfPayload(payload);
      const details = auditDetails(drill === undefined ? payload : { ...(payload as object), drill });
      this.#enqueue({ at: this.#d.clock.now(), action: name, ...describeSignal(name, payload), details });
    });
    this.#d.log.info({ head: this.#head.seq, keyId: this.#key?.keyId }, "audit log started");
  }

  async stop(): Promise<void> {
    if (!this.enabled) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#recordDropped();
    try {
      await this.flush();
    } catch (error) {
      this.#d.log.error({ err: error, lost: this.#queue.length }, "audit entries could not be written at stop and are lost");
      throw error;
    }
    if (this.#head.seq > this.#lastCheckpoint) await this.#checkpoint(this.#head.seq, this.#head.hash);
  }

  /** Records an entry that is not a signal (the audit log's own facts). Same queue, same order. */
  record(entry: {
    action: string;
    actor: string;
    target: string | null;
    outcome: AuditFacts["outcome"];
    details?: unknown;
  }): void {
    this.#enqueue({
      at: this.#d.clock.now(),
      action: entry.action,
      actor: entry.actor,
      target: entry.target,
      outcome: entry.outcome,
      details: auditDetails(entry.details ?? {}),
    });
  }

  /**
   * Group commit for callers about to acknowledge something (the API, before it answers a
   * change): resolves once every entry queued before the call is durable. Callers in the same
   * event-loop turn share one write, made right after the turn (setImmediate), so a busy API
   * pays one transaction per turn rather than one per request.
   */
  commit(): Promise<void> {
    this.#committing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.#committing = undefined;
      return this.flush();
    });
    return this.#committing;
  }

  /** Writes everything queued so far; resolves once it is durable. */
  flush(): Promise<void> {
    const run = this.#writing.then(() => this.#drain());
    this.#writing = run.catch(() => undefined);
    return run;
  }

  /** A page of entries after `after` (a seq), oldest first; includes what was queued. */
  async list(query: { after: number; limit: number }): Promise<AuditPage> {
    if (this.enabled) await this.flush().catch(() => undefined);
    const rows = await this.#d.repository.range(query.after + 1, query.limit + 1);
    const items = rows.slice(0, query.limit);
    const next = rows.length > query.limit ? (items.at(-1)?.seq ?? null) : null;
    return { items, next, head: (await this.#d.repository.last())?.seq ?? 0 };
  }

  #enqueue(pending: Pending): void {
    const max = this.#d.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (this.#queue.length >= max) {
      if (this.#dropped === undefined) {
        this.#dropped = { count: 0, firstAt: pending.at, lastAt: pending.at };
        this.#d.log.error({ queued: this.#queue.length }, "audit queue full: entries are being dropped (and counted)");
      }
      this.#dropped.count += 1;
      this.#dropped.lastAt = pending.at;
      return;
    }
    if (this.#queue.length < max - 1) this.#recordDropped();
    this.#queue.push(pending);
    if (this.#timer === undefined) this.#arm(this.#d.flushIntervalMs ?? DEFAULT_FLUSH_MS);
  }

  /** Puts the count of dropped entries into the queue, where the gap was. */
  #recordDropped(): void {
    if (this.#dropped === undefined) return;
    const { count, firstAt, lastAt } = this.#dropped;
    this.#dropped = undefined;
    this.#queue.push({
      at: this.#d.clock.now(),
      action: "audit.entries_dropped",
      actor: "system",
      target: null,
      outcome: "failure",
      details: auditDetails({ count, from: new Date(firstAt), to: new Date(lastAt) }),
    });
    if (this.#timer === undefined) this.#arm(this.#d.flushIntervalMs ?? DEFAULT_FLUSH_MS);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => undefined); // #drain logged it and re-armed the retry
    }, ms);
    this.#timer.unref();
  }

  async #drain(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const pending = this.#queue;
    this.#queue = [];
    const maxBatch = this.#d.maxBatch ?? DEFAULT_MAX_BATCH;
    const every = this.#d.checkpointEvery;
    let offset = 0;
    let rebased = 0;
    try {
      while (offset < pending.length) {
        const chunk = pending.slice(offset, offset + maxBatch);
        let { seq, hash } = this.#head;
        const entries: AuditEntry[] = [];
        const due: { seq: number; hash: string }[] = [];
        for (const p of chunk) {
          seq += 1;
          const entry = {
            seq,
            at: p.at,
            actor: p.actor,
            action: p.action,
            target: p.target,
            outcome: p.outcome,
            details: p.details,
          };
          const next = auditEntryHash({ ...entry, prevHash: hash });
          entries.push({ ...entry, prevHash: hash, hash: next });
          hash = next;
          if (seq % every === 0) due.push({ seq, hash });
        }
        try {
          await this.#d.repository.appendBatch(entries);
        } catch (error) {
          // Nodes sharing one PostgreSQL store append to one chain: when another node took
          // these seqs first, the batch was refused whole (STORE_CONFLICT); continue the chain
          // from the stored head and rebuild the batch on it.
          if (!isVigilError(error, "STORE_CONFLICT") || ++rebased > MAX_REBASES) throw error;
          const last = await this.#d.repository.last();
          if (last === undefined || last.seq <= this.#head.seq) throw error;
          this.#head = { seq: last.seq, hash: last.hash };
          continue;
        }
        this.#head = { seq, hash };
        offset += chunk.length;
        for (const c of due) await this.#checkpoint(c.seq, c.hash);
      }
      if (this.#failing) this.#d.log.warn({ head: this.#head.seq }, "audit log writes recovered");
      this.#failing = false;
      this.#recordDropped();
    } catch (error) {
      // Put back what was not written, before anything queued meanwhile: order is kept.
      this.#queue = [...pending.slice(offset), ...this.#queue];
      if (!this.#failing) {
        this.#d.log.error({ err: error, queued: this.#queue.length }, "audit log write failed; retrying every second");
      }
      this.#failing = true;
      if (this.#timer === undefined && this.#unsubscribe !== undefined) this.#arm(RETRY_MS);
      throw error;
    }
  }

  async #checkpoint(seq: number, hash: string): Promise<void> {
    const key = this.#key;
    if (key === undefined || seq <= this.#lastCheckpoint) return;
    const at = this.#d.clock.now();
    const checkpoint: AuditCheckpoint = { seq, hash, at, keyId: key.keyId, signature: key.signCheckpoint({ seq, hash, at }) };
    try {
      await this.#d.repository.appendCheckpoint(checkpoint);
      this.#lastCheckpoint = seq;
    } catch (error) {
      // Not fatal: the chain is intact, and the next checkpoint covers these entries too.
      this.#d.log.error({ err: error, seq }, "audit checkpoint could not be written");
    }
  }

  /** Loads the signing key, creating it on first start; records new keys in the log itself. */
  async #loadKey(): Promise<void> {
    const store = this.#d.keys;
    let pem = await store.load();
    let created = false;
    if (pem === undefined) {
      const pair = generateAuditSigningKey();
      await store.save(pair.privateKeyPem, pair.publicKeyPem);
      pem = pair.privateKeyPem;
      created = true;
    }
    const key = loadAuditSigningKey(pem, store.location);
    this.#key = key;
    const known = await this.#d.repository.keys();
    if (known.some((k) => k.id === key.keyId)) return;
    await this.#d.repository.addKey({
      id: key.keyId,
      algorithm: "ed25519",
      publicKey: key.publicKeyPem,
      createdAt: this.#d.clock.now(),
    });
    if (known.length > 0) {
      this.#d.log.warn(
        { keyId: key.keyId, previous: known.map((k) => k.id) },
        "the audit signing key changed: checkpoints from now on are signed by a new key (was the key file replaced or lost?)",
      );
    }
    this.record({
      action: created ? "audit.key_created" : "audit.key_added",
      actor: "system",
      target: key.keyId,
      outcome: "success",
      details: { keyId: key.keyId, algorithm: "ed25519", location: store.location, previousKeys: known.map((k) => k.id) },
    });
  }
}
