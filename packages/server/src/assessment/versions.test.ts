import assert from "node:assert/strict";
import { test } from "node:test";
import { VersionError, compareVersions, type VersionScheme } from "./versions.js";

function ordered(scheme: VersionScheme, list: readonly string[]): void {
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1] as string;
    const b = list[i] as string;
    assert.ok(compareVersions(scheme, a, b) < 0, `${scheme}: ${a} < ${b}`);
    assert.ok(compareVersions(scheme, b, a) > 0, `${scheme}: ${b} > ${a}`);
  }
}

test("each scheme orders versions as its ecosystem does", () => {
  ordered("semver", ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0", "1.2.3", "1.10.0", "v2.0.0"]);
  ordered("generic", ["1.1.1", "1.1.1v", "1.1.1w", "1.9.0", "1.35.0", "1.36.1", "3.0.7", "3.0.8", "3.0.13"]);
  ordered("rpm", ["1.0~rc1", "1.0", "1.0a", "1.0.1", "2"]);
  ordered("dpkg", ["1.0~rc1-1", "1.0-1", "2.5.0-1", "2.5.0-1+deb12u1", "2.5.1-1", "1:0.9-1"]);
  ordered("pep440", ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "2!0.1"]);
  ordered("maven", ["1.0-alpha-1", "1.0-beta", "1.0-rc1", "1.0-SNAPSHOT", "1.0", "1.0-sp1", "1.0.1", "1.1"]);
  assert.equal(compareVersions("maven", "1.0", "1.0.0"), 0);
  assert.equal(compareVersions("pep440", "1.0", "1.0.0"), 0);
  assert.equal(compareVersions("semver", "v1.2.3", "1.2.3"), 0);
});

test("versions that do not parse under their scheme throw VERSION_UNPARSABLE", () => {
  const bad: [VersionScheme, string][] = [
    ["semver", "1.2"],
    ["semver", "latest"],
    ["pep440", "1.0-banana"],
    ["generic", "release"],
    ["generic", ""],
    ["dpkg", "abc"],
    ["semver", "1".repeat(300)],
  ];
  for (const [scheme, v] of bad) {
    assert.throws(
      () => compareVersions(scheme, v, "1.0.0"),
      (e: unknown) => e instanceof VersionError && e.code === "VERSION_UNPARSABLE",
      `${scheme} ${v}`,
    );
  }
});
