import type { AuditCheckpoint, AuditEntry, AuditKeyRecord, AuditRepository } from "./ports.js";

/**
 * An in-memory `AuditRepository` for tests and benchmarks. Its arrays are public so that
 * tests can tamper with them the way an attacker with the database file would.
 */
export class MemoryAuditRepository implements AuditRepository {
  entries: AuditEntry[] = [];
  checkpointRows: AuditCheckpoint[] = [];
  keyRows: AuditKeyRecord[] = [];
  /** Batches written, for assertions on batching. */
  readonly batches: number[] = [];
  /** Makes the next `n` appendBatch calls fail, as a full disk would. */
  failNext = 0;

  async appendBatch(entries: readonly AuditEntry[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error("disk full (simulated)");
    }
    const last = this.entries.at(-1)?.seq ?? 0;
    if (entries[0] !== undefined && entries[0].seq <= last) throw new Error(`seq ${entries[0].seq} already written`);
    this.entries.push(...entries);
    this.batches.push(entries.length);
  }

  async appendCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    this.checkpointRows.push(checkpoint);
  }

  async addKey(key: AuditKeyRecord): Promise<void> {
    if (!this.keyRows.some((k) => k.id === key.id)) this.keyRows.push(key);
  }

  async last(): Promise<AuditEntry | undefined> {
    return this.#sorted().at(-1);
  }

  async range(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.#sorted()
      .filter((e) => e.seq >= fromSeq)
      .slice(0, limit);
  }

  async count(): Promise<number> {
    return this.entries.length;
  }

  async checkpoints(): Promise<AuditCheckpoint[]> {
    return [...this.checkpointRows].sort((a, b) => a.seq - b.seq);
  }

  async keys(): Promise<AuditKeyRecord[]> {
    return [...this.keyRows];
  }

  #sorted(): AuditEntry[] {
    return [...this.entries].sort((a, b) => a.seq - b.seq);
  }
}
