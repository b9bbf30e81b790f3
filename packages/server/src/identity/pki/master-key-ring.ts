import { existsSync } from "node:fs";
import { rename } from "node:fs/promises";
import { VigilError } from "../../core/index.js";
import { FileMasterKey, type MasterKeyProvider, type SealedBlob } from "./key-vault.js";

/**
 * The master key in force plus, during a rotation, the one it replaces. New data keys are
 * wrapped by the primary; unwrapping tries the primary, then the retiring key (AES-GCM
 * authenticates, so a wrong key fails cleanly). Vault and sealed fields keep working while
 * a rotation re-wraps them.
 */
export class MasterKeyRing implements MasterKeyProvider {
  #primary: MasterKeyProvider;
  #retiring: MasterKeyProvider[] = [];

  constructor(primary: MasterKeyProvider) {
    this.#primary = primary;
  }

  get keyId(): string {
    return this.#primary.keyId;
  }

  /** True while a key other than the primary can still unwrap (a rotation is under way). */
  get rotating(): boolean {
    return this.#retiring.length > 0;
  }

  wrap(dataKey: Buffer): Promise<SealedBlob> {
    return this.#primary.wrap(dataKey);
  }

  async unwrap(blob: SealedBlob): Promise<Buffer> {
    try {
      return await this.#primary.unwrap(blob);
    } catch (error) {
      for (const key of this.#retiring) {
        try {
          return await key.unwrap(blob);
        } catch {
          // try the next one
        }
      }
      throw error;
    }
  }

  /** `next` wraps from now on; the current primary only unwraps until `retire()`. */
  promote(next: MasterKeyProvider): void {
    if (next.keyId === this.#primary.keyId) return;
    this.#retiring = [this.#primary, ...this.#retiring.filter((k) => k.keyId !== next.keyId)];
    this.#primary = next;
  }

  retire(): void {
    this.#retiring = [];
  }
}

/** Where the next master key waits while a rotation is under way. */
export const nextKeyFile = (file: string) => `${file}.next`;

/**
 * Opens the master key file. When a rotation was interrupted (`<file>.next` exists), the
 * next key becomes primary and the current one stays able to unwrap: call
 * `rotateMasterKey` to finish.
 */
export async function openMasterKeyRing(file: string, options: { create: boolean }): Promise<MasterKeyRing> {
  const ring = new MasterKeyRing(await FileMasterKey.open(file, options));
  if (existsSync(nextKeyFile(file))) ring.promote(await FileMasterKey.open(nextKeyFile(file), { create: false }));
  return ring;
}

/** Anything sealed under the master key that a rotation must re-wrap. */
export interface Rewrappable {
  rewrapAll(): Promise<number>;
}

export interface RotationResult {
  readonly previousMasterKeyId: string;
  readonly masterKeyId: string;
  readonly vaultItems: number;
  readonly dataKeys: number;
}

/**
 * Rotates the master key without stopping Vigil: (1) a new key is written to
 * `<file>.next` (0600) — or the one of an interrupted rotation is reused; (2) every vault
 * item and data key is re-wrapped under it while both keys unwrap; (3) `<file>.next`
 * replaces `<file>` in one rename, and the old key is forgotten. A crash at any point
 * leaves every item openable, and the next start (or a retry) resumes.
 */
export function rotateMasterKey(input: RotationInput): Promise<RotationResult> {
  // One rotation of a ring at a time: two at once would both promote a key and race to
  // rename the same `.next` file (found by test/reliability/api-fuzz.test.ts).
  const run = (rotations.get(input.ring) ?? Promise.resolve()).then(() => rotateOnce(input));
  rotations.set(
    input.ring,
    run.catch(() => undefined),
  );
  return run;
}

interface RotationInput {
  file: string;
  ring: MasterKeyRing;
  vault: Rewrappable;
  dataKeys: Rewrappable;
}

const rotations = new WeakMap<MasterKeyRing, Promise<unknown>>();

async function rotateOnce(input: RotationInput): Promise<RotationResult> {
  const { file, ring } = input;
  const previousMasterKeyId = ring.keyId;
  try {
    const next = await FileMasterKey.open(nextKeyFile(file), { create: true });
    const from = ring.rotating && ring.keyId === next.keyId ? previousMasterKeyId : ring.keyId;
    ring.promote(next);
    const vaultItems = await input.vault.rewrapAll();
    const dataKeys = await input.dataKeys.rewrapAll();
    await rename(nextKeyFile(file), file);
    ring.retire();
    return { previousMasterKeyId: from, masterKeyId: next.keyId, vaultItems, dataKeys };
  } catch (error) {
    if (error instanceof VigilError && error.code === "KEY_ROTATION_FAILED") throw error;
    throw new VigilError("KEY_ROTATION_FAILED", `master key rotation did not finish: ${(error as Error).message}`, {
      cause: error,
      hint: "Every item still opens with the old or the new key. Fix the cause (disk space, permissions) and run `vigil keys rotate` again: it resumes.",
    });
  }
}
