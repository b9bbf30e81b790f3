import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { VigilError } from "../core/index.js";
import { AssetInventory } from "./asset-inventory.js";
import { readCapture } from "./capture-source.js";
import { FINGERPRINT_FEATURES, FingerprintModel, type Identification } from "./device-fingerprint.js";
import { decodePacket, newDecodedPacket } from "./packet-decoder.js";

/**
 * Training and evaluation of device fingerprints from a folder of labelled captures:
 * `DIR/<device type>/*.pcap`, each folder with an optional `_iotdevice-mac.txt` naming the
 * device's MAC (the layout of the IoT Sentinel data set); without it, the host that sent the
 * most packets is taken as the device.
 */

export interface LabelledCapture {
  readonly type: string;
  readonly file: string;
  readonly vector: Float64Array;
}

export async function fingerprintCaptures(dir: string): Promise<LabelledCapture[]> {
  const out: LabelledCapture[] = [];
  const types = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const type of types) {
    const folder = join(dir, type);
    const names = (await readdir(folder)).sort();
    let mac: string | undefined;
    if (names.includes("_iotdevice-mac.txt"))
      mac = (await readFile(join(folder, "_iotdevice-mac.txt"), "utf8")).trim().toLowerCase();
    for (const name of names.filter((n) => /\.(pcap|pcapng|cap)$/i.test(n))) {
      const file = join(folder, name);
      const inventory = new AssetInventory({ source: file });
      const p = newDecodedPacket();
      await readCapture(file, (r) => inventory.observe(decodePacket(r, p)));
      const hosts = inventory.hosts();
      const device = mac !== undefined ? hosts.find((h) => h.mac === mac) : hosts.sort((a, b) => b.packets - a.packets)[0];
      if (device === undefined) continue;
      out.push({ type, file, vector: device.fingerprint.vector() });
    }
  }
  if (out.length === 0) {
    throw new VigilError("NET_MODEL_INVALID", `no labelled captures under ${dir}`, {
      hint: "Lay them out as DIR/<device type>/*.pcap (with _iotdevice-mac.txt naming the device's MAC).",
    });
  }
  return out;
}

export interface CrossValidation {
  readonly correct: number;
  readonly total: number;
  readonly accuracy: number;
  readonly results: { readonly file: string; readonly type: string; readonly identified: Identification }[];
}

/**
 * Two-fold evaluation by capture: for every type with two or more captures, train on one
 * capture per type and identify the others, then swap (every capture is tested once, by a
 * model that never saw it).
 */
export function crossValidate(captures: readonly LabelledCapture[], options: { withoutClues?: boolean } = {}): CrossValidation {
  if (options.withoutClues) captures = captures.map((c) => ({ ...c, vector: withoutClues(c.vector) }));
  const results: CrossValidation["results"][number][] = [];
  const byType = new Map<string, LabelledCapture[]>();
  for (const c of captures) byType.set(c.type, [...(byType.get(c.type) ?? []), c]);
  const folds = Math.max(...[...byType.values()].map((l) => l.length));
  for (let fold = 0; fold < folds; fold++) {
    const train: LabelledCapture[] = [];
    const test: LabelledCapture[] = [];
    for (const list of byType.values()) list.forEach((c, i) => (i === fold % list.length ? train : test).push(c));
    const model = FingerprintModel.train(train, "cross-validation fold");
    for (const c of test) results.push({ file: c.file, type: c.type, identified: model.identify(c.vector) });
  }
  const correct = results.filter((r) => r.identified.type === r.type).length;
  return { correct, total: results.length, accuracy: results.length ? correct / results.length : 0, results };
}

/** The vector with its DHCP/DNS/agent token features zeroed: traffic shape only. */
export function withoutClues(v: Float64Array): Float64Array {
  const out = Float64Array.from(v);
  FINGERPRINT_FEATURES.forEach((name, i) => {
    if (name.startsWith("token_")) out[i] = 0;
  });
  return out;
}
