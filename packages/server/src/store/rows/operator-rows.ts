/** Engine-neutral rows and mappers for WebAuthn credentials and data keys (shared by SQLite and PostgreSQL). */
import type { Millis, OperatorId } from "../../core/index.js";
import type { DataKeyRecord, SealedBlob } from "../../identity/index.js";
import type { WebAuthnCredentialRecord } from "../../operators/index.js";

export interface WebAuthnRow {
  id: string;
  operator_id: string;
  name: string;
  public_key: string;
  counter: number;
  transports: string;
  created_at: number;
  last_used_at: number | null;
}

export interface DataKeyRow {
  name: string;
  master_key_id: string;
  wrapped: string;
  created_at: number;
  rewrapped_at: number | null;
}

export const toDataKey = (r: DataKeyRow): DataKeyRecord => ({
  name: r.name,
  masterKeyId: r.master_key_id,
  wrapped: JSON.parse(r.wrapped) as SealedBlob,
  createdAt: r.created_at as Millis,
  rewrappedAt: r.rewrapped_at as Millis | null,
});

export function toWebAuthn(r: WebAuthnRow): WebAuthnCredentialRecord {
  return {
    id: r.id,
    operatorId: r.operator_id as OperatorId,
    name: r.name,
    publicKey: r.public_key,
    counter: r.counter,
    transports: JSON.parse(r.transports) as string[],
    createdAt: r.created_at as Millis,
    lastUsedAt: r.last_used_at as Millis | null,
  };
}
