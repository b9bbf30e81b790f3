import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import { VigilError } from "../core/index.js";
import { checkProfile, type Profile, type ProfileIssue } from "./profile.js";

/**
 * The profiles shipped with Vigil, as YAML files beside this module. `tsc` does not copy
 * them: the build must copy `src/policy/profiles/` to `dist/policy/profiles/`.
 */
export const DEFAULT_PROFILES_DIR: URL = new URL("./profiles/", import.meta.url);

export const DEFAULT_PROFILE_IDS = [
  "infusion-pump",
  "patient-monitor",
  "ip-camera",
  "plc",
  "smart-meter",
  "vehicle-telematics",
  "environmental-sensor",
] as const;

/** A profile file larger than this is refused unread: profiles are a few hundred bytes. */
export const MAX_PROFILE_FILE_BYTES = 64 * 1024;

const PROFILE_FILE = /\.(ya?ml|json)$/i;

/** One problem in one profile file, located as precisely as the source allows. */
export interface ProfileFileIssue {
  readonly file: string;
  /** Dotted path inside the profile, `(root)` for the whole document or the file itself. */
  readonly path: string;
  /** 1-based line in the file, when the path leads to a node in it. */
  readonly line: number | undefined;
  readonly message: string;
}

type FileCheck = { readonly ok: true; readonly profile: Profile } | { readonly ok: false; readonly issues: ProfileFileIssue[] };

/**
 * Parses and validates one profile from YAML or JSON text (JSON is read as YAML 1.2, of
 * which it is a subset; duplicate keys are errors in both). Throws `POLICY_PROFILE_INVALID`
 * listing every problem; returns a frozen profile otherwise.
 */
export function parseProfile(text: string, file = "<profile>"): Profile {
  const result = checkProfileText(text, file);
  if (!result.ok) throw invalid(result.issues);
  return result.profile;
}

/** Reads one profile file. `POLICY_PROFILE_UNREADABLE` if it cannot be read. */
export async function loadProfileFile(path: string | URL): Promise<Profile> {
  const file = typeof path === "string" ? path : fileURLToPath(path);
  const result = await checkProfileFile(file);
  if (!result.ok) throw invalid(result.issues);
  return result.profile;
}

/**
 * Loads every `*.yaml`, `*.yml` and `*.json` file of a directory, all or nothing: one bad
 * file (or two files with the same id) fails the whole load with every problem of every file
 * in one `POLICY_PROFILE_INVALID`, so a bad profile never half-loads.
 */
export async function loadProfileDirectory(dir: string | URL): Promise<ReadonlyMap<string, Profile>> {
  const path = typeof dir === "string" ? dir : fileURLToPath(dir);
  let names: string[];
  try {
    names = (await readdir(path, { withFileTypes: true }))
      .filter((entry) => entry.isFile() && PROFILE_FILE.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    throw unreadable(path, error);
  }
  const issues: ProfileFileIssue[] = [];
  const profiles = new Map<string, Profile>();
  const fileOf = new Map<string, string>();
  for (const name of names) {
    const file = join(path, name);
    const result = await checkProfileFile(file);
    if (!result.ok) {
      issues.push(...result.issues);
      continue;
    }
    const id = result.profile.id;
    const other = fileOf.get(id);
    if (other !== undefined) {
      issues.push({
        file,
        path: "id",
        line: undefined,
        message: `profile id ${JSON.stringify(id)} is also defined in ${basename(other)}`,
      });
      continue;
    }
    fileOf.set(id, file);
    profiles.set(id, result.profile);
  }
  if (issues.length > 0) throw invalid(issues);
  return profiles;
}

/** The profiles shipped with Vigil (see `DEFAULT_PROFILE_IDS`). */
export function loadDefaultProfiles(): Promise<ReadonlyMap<string, Profile>> {
  return loadProfileDirectory(DEFAULT_PROFILES_DIR);
}

async function checkProfileFile(file: string): Promise<FileCheck> {
  let text: string;
  try {
    if ((await stat(file)).size > MAX_PROFILE_FILE_BYTES) return tooLarge(file);
    text = await readFile(file, "utf8");
  } catch (error) {
    throw unreadable(file, error);
  }
  return checkProfileText(text, file);
}

function tooLarge(file: string): FileCheck {
  return fail(file, `the file is larger than ${MAX_PROFILE_FILE_BYTES} bytes`);
}

function checkProfileText(text: string, file: string): FileCheck {
  if (Buffer.byteLength(text, "utf8") > MAX_PROFILE_FILE_BYTES) return tooLarge(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((error) => ({
        file,
        path: "(root)",
        line: lineCounter.linePos(error.pos[0]).line,
        message: `not valid YAML/JSON: ${error.message.split("\n")[0] ?? error.message}`,
      })),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    return fail(file, `cannot be read as data: ${(error as Error).message.split("\n")[0] ?? ""}`);
  }
  if (value === null || value === undefined) return fail(file, "the file is empty; a profile is a mapping of fields");
  const result = checkProfile(value);
  if (result.ok) return result;
  const issues = result.issues.map((issue) => locate(file, doc, lineCounter, issue));
  // In file order; problems without a line (missing fields) last.
  return { ok: false, issues: issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)) };
}

function fail(file: string, message: string): FileCheck {
  return { ok: false, issues: [{ file, path: "(root)", line: undefined, message }] };
}

function locate(file: string, doc: Document, lines: LineCounter, issue: ProfileIssue): ProfileFileIssue {
  let node: unknown = doc.contents;
  let found = true;
  for (const key of issue.path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === key);
      if (pair === undefined) {
        found = false;
        break;
      }
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
    } else {
      found = false;
      break;
    }
  }
  const offset = found && (isScalar(node) || isMap(node) || isSeq(node)) ? node.range?.[0] : undefined;
  return {
    file,
    path: issue.path.length === 0 ? "(root)" : issue.path.join("."),
    line: offset === undefined ? undefined : lines.linePos(offset).line,
    message: issue.message,
  };
}

function invalid(issues: readonly ProfileFileIssue[]): VigilError {
  const problems = issues.map((i) => `${i.file}${i.line === undefined ? "" : `:${i.line}`} ${i.path}: ${i.message}`);
  const files = new Set(issues.map((i) => i.file)).size;
  return new VigilError(
    "POLICY_PROFILE_INVALID",
    `${files === 1 ? "a device profile has" : `${files} device profiles have`} ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`,
    {
      hint: "Fix the fields above; the profiles shipped in packages/server/src/policy/profiles/ show every field.",
      details: { problems, issues },
    },
  );
}

function unreadable(path: string, error: unknown): VigilError {
  return new VigilError(
    "POLICY_PROFILE_UNREADABLE",
    `cannot read device profiles at ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    { cause: error, hint: "Check the path and its permissions." },
  );
}
