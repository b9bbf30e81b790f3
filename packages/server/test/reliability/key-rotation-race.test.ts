import assert from "node:assert/strict";
import { test } from "node:test";
import { callApi } from "../../src/cli/client.js";
import { addArtifact, firmwareImage } from "../ota-support.js";
import { startPlatform, tempDir } from "../support.js";

// Found by the API fuzzer (test/reliability/api-fuzz.test.ts):
// - two `POST /api/v1/keys/rotate` at once both promoted a new master key and raced to rename
//   the same `master.key.next`: the second answered 500 KEY_ROTATION_FAILED;
// - a master key rotation racing an OTA key rotation re-wrapped a vault item that the OTA
//   rotation was renaming (ENOENT, 500), and could leave an item sealed under the retired key.
// Rotations of one master key now run one after the other, and vault writes are serialized.
test("concurrent master key and OTA key rotations all succeed, and every sealed key still opens after a restart", async () => {
  const dir = tempDir("vigil-rotate-race-");
  try {
    const t = await startPlatform({ keepDir: dir.path });
    await callApi(t.admin, "POST", "/api/v1/ota/keys", { algorithm: "ed25519" });
    const master = Array.from({ length: 4 }, () =>
      callApi<{ masterKeyId: string; previousMasterKeyId: string }>(t.admin, "POST", "/api/v1/keys/rotate", {}),
    );
    const ota = Array.from({ length: 4 }, () => callApi(t.admin, "POST", "/api/v1/ota/keys/rotate", { role: "targets" }));
    const [answers, otaAnswers] = await Promise.all([Promise.all(master), Promise.all(ota)]);
    assert.deepEqual(
      [...answers, ...otaAnswers].map((a) => a.status < 300),
      Array.from({ length: 8 }, () => true),
    );
    const ids = answers.map((a) => a.data.masterKeyId);
    assert.equal(new Set(ids).size, 4, "four rotations, four new master keys");
    // One after the other: each rotation started from the key the one before it made.
    assert.equal(answers.filter((a) => ids.includes(a.data.previousMasterKeyId)).length, 3);
    const token = t.admin.token;
    await t.stop();

    // After a restart the vault opens with the last master key: the API's TLS key, the CA and
    // the rotated OTA targets key (publishing an artifact signs with it).
    const again = await startPlatform({ keepDir: dir.path });
    const admin = { ...again.anonymous, token };
    const artifact = await addArtifact(admin, firmwareImage(2048), {
      version: "1.0.1",
      profile: "plc",
      hardware: "rev-a",
      counter: "1",
    });
    assert.equal(artifact.version, "1.0.1");
    await again.stop();
  } finally {
    dir.remove();
  }
});
