import { VigilError } from "../../core/index.js";

export function sqliteCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

export function conflict(what: string, cause: unknown): VigilError {
  return new VigilError("STORE_CONFLICT", `${what} already exists`, { cause });
}
