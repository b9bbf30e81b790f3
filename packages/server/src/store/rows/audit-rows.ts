/** Engine-neutral rows and mappers for the audit log (shared by SQLite and PostgreSQL). */
import type { AuditEntry } from "../../audit/index.js";
import type { Millis } from "../../core/index.js";

export interface EntryRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export interface CheckpointRow {
  seq: number;
  hash: string;
  at: number;
  key_id: string;
  signature: string;
}

export interface KeyRow {
  id: string;
  algorithm: string;
  public_key: string;
  created_at: number;
}

export function toEntry(r: EntryRow): AuditEntry {
  return {
    seq: r.seq,
    at: r.at as Millis,
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
