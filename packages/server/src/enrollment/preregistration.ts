import { VigilError, parseDeviceId, type DeviceId } from "../core/index.js";

export interface Preregistration {
  readonly deviceId: DeviceId;
  readonly keySha256: string;
  readonly profile: string | null;
}

const HEX64 = /^[0-9a-f]{64}$/;
const PROFILE = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const MAX_PREREGISTRATION_ROWS = 100_000;

/**
 * Parses a pre-registration CSV: `device_id,public_key_sha256[,profile]` per line (a header
 * line naming the columns is skipped; `#` starts a comment). The fingerprint is the SHA-256
 * of the device's SubjectPublicKeyInfo DER
 * (`openssl pkey -in key.pem -pubout -outform DER | sha256sum`). All rows must be valid:
 * one bad row and nothing is imported, with every bad line listed.
 */
export function parsePreregistrationCsv(text: string): Preregistration[] {
  const out: Preregistration[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_PREREGISTRATION_ROWS + 1) problems.push(`more than ${MAX_PREREGISTRATION_ROWS} rows`);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const n = index + 1;
    if (line === "" || line.startsWith("#")) return;
    const cells = line.split(",").map((c) => c.trim());
    if (index === 0 && /^device[_ ]?id$/i.test(cells[0] ?? "")) return;
    if (cells.length < 2 || cells.length > 3)
      return void problems.push(`line ${n}: expected 2 or 3 columns, found ${cells.length}`);
    const deviceId = parseDeviceId(cells[0] ?? "");
    const key = (cells[1] ?? "").toLowerCase().replace(/:/g, "");
    const profile = cells[2] === undefined || cells[2] === "" ? null : cells[2];
    if (deviceId === undefined)
      return void problems.push(`line ${n}: ${JSON.stringify((cells[0] ?? "").slice(0, 64))} is not a valid device id`);
    if (!HEX64.test(key)) return void problems.push(`line ${n}: the key fingerprint must be 64 hex digits (SHA-256)`);
    if (profile !== null && !PROFILE.test(profile))
      return void problems.push(`line ${n}: ${JSON.stringify(profile.slice(0, 64))} is not a profile id`);
    if (seen.has(deviceId)) return void problems.push(`line ${n}: device ${deviceId} appears twice`);
    seen.add(deviceId);
    out.push({ deviceId, keySha256: key, profile });
  });
  if (problems.length > 0) {
    throw new VigilError(
      "ENROLLMENT_PREREGISTRATION_INVALID",
      `the pre-registration file has ${problems.length} problem(s); nothing was imported:\n  - ${problems.slice(0, 50).join("\n  - ")}`,
      {
        hint: "Each line: device_id,public_key_sha256[,profile].",
        details: { problems },
      },
    );
  }
  if (out.length === 0) {
    throw new VigilError("ENROLLMENT_PREREGISTRATION_INVALID", "the pre-registration file holds no device", {
      hint: "Each line: device_id,public_key_sha256[,profile].",
    });
  }
  return out;
}
