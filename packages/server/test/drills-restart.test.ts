import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuditListResponse, DrillDto, DrillListDto } from "@vigil/contract";
import { callApi } from "../src/cli/client.js";
import { systemClock } from "../src/core/index.js";
import { startPlatform, tempDir } from "./support.js";

// A drill outlives a restart of Vigil: it is kept in the store (migration 13), so what happens to
// its devices after the restart is still tagged with it, and ending it afterwards works.

// One wall clock for the three runs (a test platform's own clock may be moved ahead by its TOTP
// logins, which would put the drill's window out of reach of the next run's clock).
const clock = systemClock;

test("a drill registered before a restart still tags its devices after it, and can be ended then", async () => {
  const dir = tempDir("vigil-drill-restart-");
  try {
    const first = await startPlatform({ keepDir: dir.path, clock });
    const { data: drill } = await callApi<DrillDto>(first.admin, "POST", "/api/v1/drills", {
      name: "flood on meter-7",
      devices: ["meter-7"],
      durationSeconds: 600,
    });
    const token = first.admin.token;
    await first.stop();

    const again = await startPlatform({ keepDir: dir.path, clock });
    try {
      const admin = { ...again.anonymous, token }; // API tokens survive restarts
      const { data: listed } = await callApi<DrillListDto>(admin, "GET", "/api/v1/drills");
      const kept = listed.items.find((d) => d.id === drill.id);
      assert.equal(kept?.active, true, "the drill is listed and still in progress after the restart");
      assert.deepEqual(kept?.devices, ["meter-7"]);

      // Something happens to the drill's device after the restart: its audit entry carries the drill.
      await callApi(admin, "POST", "/api/v1/devices", { id: "meter-7", profile: "smart-meter" });
      await callApi(admin, "POST", "/api/v1/devices", { id: "meter-8", profile: "smart-meter" });
      const { data: audit } = await callApi<AuditListResponse>(admin, "GET", "/api/v1/audit?limit=1000");
      const registered = (device: string) =>
        audit.items.find((e) => e.action === "device.registered" && (e.details as { device?: unknown }).device === device);
      assert.equal((registered("meter-7")?.details as { drill?: unknown }).drill, drill.id);
      assert.equal((registered("meter-8")?.details as { drill?: unknown }).drill, undefined, "a device outside the drill");

      const { data: ended } = await callApi<DrillDto>(admin, "POST", `/api/v1/drills/${drill.id}/end`, {});
      assert.equal(ended.active, false);
    } finally {
      await again.stop();
    }
    // Ended before this third start: it stays ended.
    const third = await startPlatform({ keepDir: dir.path, clock });
    try {
      const admin = { ...third.anonymous, token };
      const { data: listed } = await callApi<DrillListDto>(admin, "GET", "/api/v1/drills");
      assert.equal(listed.items.find((d) => d.id === drill.id)?.active, false);
    } finally {
      await third.stop();
    }
  } finally {
    dir.remove();
  }
});
