import { readFile } from "node:fs/promises";
import { VigilError } from "../../core/index.js";
import { pgCode } from "./postgres-db.js";

/** The URL with its password replaced by `***`, for `location`, logs and `vigil config print`. */
export function redactPostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    const params = parsed.searchParams;
    if (params.has("password")) params.set("password", "***");
    return parsed.toString();
  } catch {
    return "postgres://[unparseable URL]";
  }
}

export async function readPassword(file: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).split(/\r?\n/)[0] ?? "";
  } catch (error) {
    throw new VigilError("STORE_AUTH_FAILED", `cannot read the PostgreSQL password file ${file}: ${(error as Error).message}`, {
      cause: error,
      hint: "Check store.passwordFile: the file must exist and be readable by the user running Vigil.",
    });
  }
}

/** Maps a failed connection to what the operator should do about it. */
export function connectError(location: string, error: unknown): VigilError {
  const code = pgCode(error);
  const message = (error as Error).message ?? String(error);
  if (code === "28P01" || code === "28000") {
    return new VigilError("STORE_AUTH_FAILED", `PostgreSQL at ${location} refused the credentials: ${message}`, {
      cause: error,
      hint: "Check the user in store.url and the password (store.passwordFile), and pg_hba.conf on the server.",
    });
  }
  if (code === "3D000") {
    return new VigilError("STORE_DATABASE_MISSING", `PostgreSQL at ${location}: ${message}`, {
      cause: error,
      hint: "Create it first (`createdb <name>` or CREATE DATABASE), owned by the user Vigil connects as; Vigil creates its tables itself.",
    });
  }
  return new VigilError("STORE_UNREACHABLE", `cannot reach PostgreSQL at ${location}: ${message}`, {
    cause: error,
    hint: "Check that the server runs and listens on that host and port (pg_isready), and that no firewall is in the way.",
  });
}
