import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { chmod, mkdir, rm, stat, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { VigilError } from "../core/index.js";

/**
 * The data directory holds the database, keys and daemon state. It is created 0700, must be
 * owned by the user running Vigil and writable, and is held by one process at a time.
 */
export async function prepareDataDir(dir: string): Promise<{ tightened: boolean }> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw unusable(dir, "it exists and is not a directory", error);
    throw unusable(dir, `cannot create it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, error);
  }
  const info = await stat(dir);
  if (!info.isDirectory()) throw unusable(dir, "it exists and is not a directory");
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw unusable(
      dir,
      `it is owned by uid ${info.uid}, and Vigil runs as uid ${uid}`,
      undefined,
      "Run Vigil as the directory's owner, or give a --data-dir of your own.",
    );
  }
  let tightened = false;
  if ((info.mode & 0o077) !== 0) {
    await chmod(dir, 0o700);
    tightened = true;
  }
  // Probe: a real write, since permission bits and read-only mounts both show up here.
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    await writeFile(probe, "");
    await rm(probe);
  } catch (error) {
    throw unusable(dir, `it is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, error);
  }
  return { tightened };
}

function unusable(dir: string, why: string, cause?: unknown, hint?: string): VigilError {
  return new VigilError("DATA_DIR_UNUSABLE", `data directory ${dir} is unusable: ${why}`, {
    cause,
    hint: hint ?? "Fix its permissions, or choose another directory with --data-dir.",
  });
}

export interface DataDirLock {
  release(): void;
}

/**
 * An exclusive lock on the data directory: `vigil.lock`, created with O_EXCL, holding the
 * owner's pid. A lock left by a process that no longer runs (kill -9, power loss) is
 * taken over; one held by a live process refuses the start.
 */
export function lockDataDir(dir: string): DataDirLock {
  const file = join(dir, "vigil.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw unusable(dir, `cannot create its lock file (${(error as NodeJS.ErrnoException).code})`, error);
      }
      const holder = Number.parseInt(readFileSafe(file), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new VigilError("DATA_DIR_LOCKED", `another Vigil (pid ${holder}) is already running on ${dir}`, {
          hint: `Stop it first (kill ${holder}), or start this one with another --data-dir.`,
          details: { pid: holder },
        });
      }
      // Stale lock from a process that is gone: remove it and try once more.
      try {
        unlinkSync(file);
      } catch {
        // Someone else removed it first; the retry decides.
      }
    }
  }
  throw new VigilError("DATA_DIR_LOCKED", `could not take the lock on ${dir}: another process is starting on it`, {
    hint: "Wait for the other start to finish, or use another --data-dir.",
  });
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // A recycled pid may belong to an unrelated program: on Linux, only a node process counts.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return /node|vigil/.test(cmdline);
  } catch {
    return true;
  }
}

/** What the CLI needs to find a local daemon: recorded in `<data-dir>/daemon.json` while it runs. */
export interface DaemonInfo {
  readonly pid: number;
  readonly url: string;
  readonly caFile: string;
  readonly version: string;
  readonly startedAt: string;
}

export const DAEMON_INFO_FILE = "daemon.json";
export const INITIAL_PASSWORD_FILE = "initial-admin-password";

export async function writeDaemonInfo(dir: string, info: DaemonInfo): Promise<void> {
  const file = join(dir, DAEMON_INFO_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function removeDaemonInfo(dir: string): Promise<void> {
  await rm(join(dir, DAEMON_INFO_FILE), { force: true });
}
