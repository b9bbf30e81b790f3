import { mkdir, readFile, writeFile, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** Where `vigil login` keeps tokens, per server URL: a 0600 file in the user's config dir. */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== "" ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "vigil", "credentials.json");
}

export interface SavedToken {
  readonly token: string;
  readonly operator: string;
  readonly expiresAt: string;
}

type Credentials = { servers: Record<string, SavedToken> };

async function load(file: string): Promise<Credentials> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Credentials;
    return typeof parsed === "object" && parsed !== null && typeof parsed.servers === "object" ? parsed : { servers: {} };
  } catch {
    return { servers: {} };
  }
}

export async function readToken(url: string, file = credentialsFile()): Promise<SavedToken | undefined> {
  return (await load(file)).servers[url];
}

export async function saveToken(url: string, token: SavedToken | undefined, file = credentialsFile()): Promise<void> {
  const creds = await load(file);
  if (token === undefined) delete creds.servers[url];
  else creds.servers[url] = token;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
