import type { Drill } from "../../signals/index.js";

/** A `drills` row as both engines return it (millis as numbers on both). */
export interface DrillRow {
  readonly id: string;
  readonly name: string;
  readonly devices: string;
  readonly prefixes: string;
  readonly started_at: number;
  readonly ends_at: number;
  readonly started_by: string;
}

export function drillParams(d: Drill): [string, string, string, string, number, number, string] {
  return [d.id, d.name, JSON.stringify(d.devices), JSON.stringify(d.prefixes), d.startedAt, d.endsAt, d.by];
}

function stringList(text: string): string[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export function toDrill(row: DrillRow): Drill {
  return {
    id: row.id,
    name: row.name,
    devices: stringList(row.devices),
    prefixes: stringList(row.prefixes),
    startedAt: row.started_at,
    endsAt: row.ends_at,
    by: row.started_by,
  };
}
