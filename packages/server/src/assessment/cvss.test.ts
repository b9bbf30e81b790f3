import assert from "node:assert/strict";
import { test } from "node:test";
import { CvssError, cvss2BaseScore, cvss3BaseScore, severityOfScore, validateCvss4 } from "./cvss.js";

test("CVSS v3.1 and v3.0 base scores match the FIRST calculator", () => {
  const cases: [string, number][] = [
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
    ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8],
    ["CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9],
    ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9],
    ["CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
    ["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0],
    // temporal metrics are allowed and do not change the base score
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", 9.8],
  ];
  for (const [vector, score] of cases) assert.equal(cvss3BaseScore(vector), score, vector);
});

test("CVSS v2 base scores", () => {
  assert.equal(cvss2BaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:P"), 7.5);
  assert.equal(cvss2BaseScore("(AV:N/AC:M/Au:N/C:N/I:P/A:N)"), 4.3);
  assert.equal(cvss2BaseScore("AV:N/AC:L/Au:N/C:C/I:C/A:C"), 10);
});

test("bad vectors are refused with CVSS_INVALID", () => {
  for (const bad of [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", // A missing
    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",
    "CVSS:2.9/AV:N",
    "",
  ]) {
    assert.throws(
      () => cvss3BaseScore(bad),
      (e: unknown) => e instanceof CvssError && e.code === "CVSS_INVALID",
      bad,
    );
  }
  assert.throws(() => validateCvss4("CVSS:4.0/AV:N/AC:L"), CvssError);
  validateCvss4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
});

test("qualitative ratings follow the CVSS bands", () => {
  assert.deepEqual([0, 0.1, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(severityOfScore), [
    "none",
    "low",
    "low",
    "medium",
    "medium",
    "high",
    "high",
    "critical",
    "critical",
  ]);
});
