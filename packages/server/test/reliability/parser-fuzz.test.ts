import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { OtaMetadataBundle, canonicalJson, type OtaSignedRoot } from "@vigil/contract";
import { OtaRefused, checkTargets, updateRoot } from "../../../device-sdk/src/index.js";
import { parseCycloneDx, parseCycloneDxVex, parseOsv } from "../../src/assessment/index.js";
import { isVigilError } from "../../src/core/index.js";
import { parseCsr } from "../../src/identity/index.js";
import {
  CaptureReader,
  decodePacket,
  ethernetFrame,
  newDecodedPacket,
  pcapFileHeader,
  pcapRecord,
  pcapngInterface,
  pcapngOtherBlock,
  pcapngPacket,
  pcapngSectionHeader,
  pcapngSimplePacket,
  sllFrame,
} from "../../src/network/index.js";
import { callApi } from "../../src/cli/client.js";
import { opensslCsr } from "../est-support.js";
import { addArtifact, firmwareImage } from "../ota-support.js";
import { startPlatform, tempDir, type TestPlatform } from "../support.js";
import { Rng, caseIndices, envCount, fuzzFailure, jsonText, mutateBytes, mutateJson, runSeed } from "./fuzz-support.js";

// Mutation fuzzing of every file format Vigil reads from outside, in-process (fast, so the
// long run reaches millions of cases): EST CSRs, pcap/pcapng captures (reader and packet
// decoder), CycloneDX SBOMs and VEX, OSV advisories, and the signed OTA metadata a device
// verifies. Each case is either accepted or refused with the format's own error (a
// VigilError with the format's code, an import issue, OtaRefused); any other exception is a
// crash of that parser, and a case running for more than HANG_MS counts as a hang.
// VIGIL_FUZZ_CASES scales every target (CI default below); VIGIL_FUZZ_SEED/VIGIL_FUZZ_CASE replay.

const scale = envCount("VIGIL_FUZZ_CASES", 0);
const seed = runSeed();
const HANG_MS = 5_000;
const dir = tempDir("vigil-parser-fuzz-");
const tried: Record<string, number> = {};
let t: TestPlatform | undefined;

// The OTA target needs a platform with signing keys and one published artifact.
before(async () => {
  t = await startPlatform();
  await callApi(t.admin, "POST", "/api/v1/ota/keys", { algorithm: "ed25519" });
  await addArtifact(t.admin, firmwareImage(4 * 1024), {
    version: "1.1.0",
    profile: "smart-meter",
    hardware: "rev-a",
    counter: "1",
  });
});

/** Cases for a target: its CI default, or VIGIL_FUZZ_CASES times its share. */
function casesFor(ciDefault: number, share = 1): number[] {
  return caseIndices(scale > 0 ? Math.max(1, Math.round(scale * share)) : ciDefault);
}

after(async () => {
  process.stdout.write(`parser-fuzz figures (seed ${seed}): ${JSON.stringify(tried)}\n`);
  if (process.env.VIGIL_RELIABILITY_OUT) {
    writeFileSync(join(process.env.VIGIL_RELIABILITY_OUT, "parser-fuzz.json"), JSON.stringify({ seed, tried }, null, 2));
  }
  await t?.stop();
  dir.remove();
});

async function runCases(
  target: string,
  indices: number[],
  make: (rng: Rng) => Buffer,
  check: (input: Buffer) => void | Promise<void>,
): Promise<void> {
  for (const i of indices) {
    const input = make(Rng.forCase(seed, i, target));
    const started = Date.now();
    try {
      await check(input);
    } catch (error) {
      throw fuzzFailure(target, seed, i, input, (error as Error).stack ?? String(error));
    }
    if (Date.now() - started > HANG_MS) throw fuzzFailure(target, seed, i, input, `a case took over ${HANG_MS} ms (a hang)`);
    tried[target] = (tried[target] ?? 0) + 1;
  }
}

test(`fuzz: EST CSR bodies (DER and base64) are accepted or refused with ENROLLMENT_* (seed ${seed})`, async () => {
  const corpus: Buffer[] = [];
  for (const [name, args] of [
    ["p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
    ["p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]],
    ["rsa", ["-newkey", "rsa:2048"]],
  ] as const) {
    corpus.push(readFileSync((await opensslCsr(dir.path, name, `fuzz-${name}`, [...args])).der));
  }
  await runCases(
    "csr",
    casesFor(3_000, 0.05),
    (rng) => {
      const der = mutateBytes(rng, rng.pick(corpus), corpus, 16 * 1024);
      // Half the cases as the base64 body EST sends, some with the base64 text itself mutated.
      if (rng.chance(0.5)) return der;
      const text = Buffer.from(der.toString("base64"));
      return rng.chance(0.3) ? mutateBytes(rng, text, [], 32 * 1024) : text;
    },
    async (input) => {
      try {
        await parseCsr(input[0] === 0x30 ? input.toString("base64") : input.toString("latin1"));
      } catch (error) {
        if (isVigilError(error) && error.code.startsWith("ENROLLMENT_")) return;
        throw error;
      }
    },
  );
});

test(`fuzz: pcap/pcapng captures are read or refused with CAPTURE_*; every delivered packet decodes (seed ${seed})`, async () => {
  const frames = [
    ethernetFrame({
      src: "10.0.0.1",
      dst: "10.0.0.2",
      proto: "tcp",
      sport: 40000,
      dport: 1883,
      flags: 0x18,
      payload: Buffer.from("MQTT"),
    }),
    ethernetFrame({ src: "10.0.0.2", dst: "10.0.0.1", proto: "udp", sport: 53, dport: 5000, payload: Buffer.alloc(40, 1) }),
    ethernetFrame({ src: "fe80::1", dst: "ff02::1", proto: "udp", sport: 5353, dport: 5353, payload: Buffer.alloc(20, 2) }),
    ethernetFrame({ src: "10.0.0.3", dst: "10.0.0.4", proto: "tcp", sport: 1, dport: 80, vlan: 7, flags: 0x02 }),
  ];
  const pcap = (o: { nano?: boolean; bigEndian?: boolean }) =>
    Buffer.concat([pcapFileHeader({ linkType: 1, ...o }), ...frames.map((f, i) => pcapRecord(1_700_000_000 + i / 10, f, o))]);
  const pcapng = (bigEndian: boolean) =>
    Buffer.concat([
      pcapngSectionHeader(bigEndian),
      pcapngInterface(1, { bigEndian }),
      pcapngInterface(113, { bigEndian }),
      ...frames.map((f, i) => pcapngPacket(0, 1_700_000_000 + i, f, { bigEndian })),
      pcapngPacket(1, 1_700_000_010, sllFrame({ src: "10.0.0.9", dst: "10.0.0.1", proto: "tcp", sport: 1, dport: 2 }), {
        bigEndian,
      }),
      pcapngSimplePacket(frames[0] as Buffer, undefined, bigEndian),
      pcapngOtherBlock(0x00000005, Buffer.alloc(16), bigEndian),
    ]);
  const corpus = [pcap({}), pcap({ nano: true }), pcap({ bigEndian: true }), pcapng(false), pcapng(true)];
  let packets = 0;
  await runCases(
    "capture",
    casesFor(20_000, 0.5),
    (rng) => mutateBytes(rng, rng.pick(corpus), corpus, 1 << 20),
    (input) => {
      const decoded = newDecodedPacket();
      const reader = new CaptureReader(
        (record) => {
          packets++;
          decodePacket(record, decoded);
        },
        { maxPacketBytes: 64 * 1024 },
      );
      // Fed in chunks of a size fixed per case, as a stream would deliver them.
      const chunk = 1 + (input.length % 97);
      try {
        for (let o = 0; o < input.length; o += chunk) reader.push(input.subarray(o, o + chunk));
        reader.end();
      } catch (error) {
        if (isVigilError(error) && error.code.startsWith("CAPTURE_")) return;
        throw error;
      }
    },
  );
  assert.ok(packets > 0, "mutated captures still delivered packets to the decoder");
});

const fixtures = join(import.meta.dirname, "../fixtures/assessment");

test(`fuzz: CycloneDX SBOM and VEX documents never throw: accepted, or refused with import issues (seed ${seed})`, async () => {
  const texts = readdirSync(fixtures)
    .filter((f) => f.endsWith(".json"))
    .map((f) => readFileSync(join(fixtures, f)));
  const values = texts.flatMap((b) => {
    try {
      return [JSON.parse(b.toString("utf8")) as unknown];
    } catch {
      return [];
    }
  });
  await runCases(
    "sbom",
    casesFor(6_000, 0.15),
    (rng) =>
      rng.chance(0.5) ? mutateBytes(rng, rng.pick(texts), texts, 4 << 20) : jsonText(mutateJson(rng, rng.pick(values)), 4 << 20),
    (input) => {
      const text = input.toString("utf8");
      const result = parseCycloneDx(text, { maxBytes: 4 << 20, maxComponents: 5_000 });
      if (!result.ok)
        assert.ok(
          result.issues.some((i) => i.level === "error"),
          "a refused SBOM says why",
        );
      const vex = parseCycloneDxVex(text, () => undefined);
      assert.equal(typeof vex.ok, "boolean");
    },
  );
});

test(`fuzz: OSV advisories never throw: accepted, or refused with import issues (seed ${seed})`, async () => {
  const osvDirs = [join(fixtures, "osv"), join(fixtures, "osv-bad")];
  const texts = osvDirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith(".json"))
      .map((f) => readFileSync(join(d, f))),
  );
  const values = texts.flatMap((b) => {
    try {
      return [JSON.parse(b.toString("utf8")) as unknown];
    } catch {
      return [];
    }
  });
  await runCases(
    "osv",
    casesFor(6_000, 0.15),
    (rng) =>
      rng.chance(0.5) ? mutateBytes(rng, rng.pick(texts), texts, 2 << 20) : jsonText(mutateJson(rng, rng.pick(values)), 4 << 20),
    (input) => {
      const result = parseOsv(input.toString("utf8"));
      if (!result.ok)
        assert.ok(
          result.issues.some((i) => i.level === "error"),
          "a refused advisory says why",
        );
    },
  );
});

test(`fuzz: signed OTA metadata: a device refuses every tampered bundle, accepts only the signed content (seed ${seed})`, async () => {
  const platform = (t as TestPlatform).platform;
  const trusted: OtaSignedRoot = await platform.updates.root(1);
  const original = await platform.updates.bundle(0);
  const signed = OtaMetadataBundle.parse(JSON.parse(original.toString("utf8")));
  const signedTargets = canonicalJson(signed.targets.signed);
  const signedRoots = signed.roots.map((r) => canonicalJson(r.signed));
  const now = Date.now();
  await runCases(
    "ota-metadata",
    casesFor(3_000, 0.05),
    (rng) =>
      rng.chance(0.5)
        ? mutateBytes(rng, original, [], 1 << 20)
        : jsonText(mutateJson(rng, JSON.parse(original.toString("utf8")))),
    (input) => {
      let bundle: OtaMetadataBundle;
      try {
        bundle = OtaMetadataBundle.parse(JSON.parse(input.toString("utf8")));
      } catch (error) {
        if (error instanceof SyntaxError || (error as { name?: string }).name === "ZodError") return;
        throw error;
      }
      try {
        const root = updateRoot(trusted, bundle.roots, now);
        checkTargets(root.signed, bundle.targets, now, 0);
      } catch (error) {
        if (error instanceof OtaRefused) return;
        throw error;
      }
      // Accepted: then it says exactly what was signed (only signatures or formatting may differ).
      assert.equal(canonicalJson(bundle.targets.signed), signedTargets, "tampered targets were accepted");
      for (const r of bundle.roots) {
        if (r.signed.version > trusted.signed.version)
          assert.ok(signedRoots.includes(canonicalJson(r.signed)), "a tampered root was accepted");
      }
    },
  );
});
