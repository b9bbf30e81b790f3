/** Engine-neutral rows and mappers for incidents and response dead letters (shared by SQLite and PostgreSQL). */
import type { DeadLetter, Incident } from "../../response/index.js";

/** Incidents are stored whole as JSON text in `body`. */
export interface IncidentRow {
  body: string;
}

export const toIncident = (row: IncidentRow): Incident => JSON.parse(row.body) as Incident;

export interface DeadLetterRow {
  id: string;
  at: number;
  sink: string;
  url: string;
  attempts: number;
  error: string;
  event: string;
}

export const toDeadLetter = (r: DeadLetterRow): DeadLetter => ({ ...r, event: JSON.parse(r.event) as DeadLetter["event"] });

export function deadLetterParams(l: DeadLetter): unknown[] {
  return [l.id, l.at, l.sink, l.url, l.attempts, l.error, JSON.stringify(l.event)];
}
