import assert from "node:assert/strict";
import { test } from "node:test";
import { type PurlError, packageKey, packageKeyOfEcosystem, parsePurl } from "./purl.js";

test("purls parse per the purl-spec, names normalised where the type says so", () => {
  const p = parsePurl("pkg:deb/debian/expat@2.5.0-1%2Bdeb12u1?arch=armhf&distro=debian-12#src/lib");
  assert.deepEqual(p, {
    type: "deb",
    namespace: "debian",
    name: "expat",
    version: "2.5.0-1+deb12u1",
    qualifiers: { arch: "armhf", distro: "debian-12" },
    subpath: "src/lib",
  });
  assert.equal(packageKey(parsePurl("pkg:npm/%40scope/Name@1.0.0")), "npm/@scope/name");
  assert.equal(packageKey(parsePurl("pkg:pypi/Paho_MQTT@1.6.1")), "pypi/paho-mqtt");
  assert.equal(packageKey(parsePurl("pkg:github/Mbed-TLS/mbedtls@2.28.1")), "github/mbed-tls/mbedtls");
  assert.equal(
    packageKey(parsePurl("pkg:maven/org.eclipse.paho/org.eclipse.paho.client.mqttv3@1.2.5")),
    "maven/org.eclipse.paho/org.eclipse.paho.client.mqttv3",
  );
  assert.equal(parsePurl("pkg:generic/openssl").version, null);
});

test("bad purls and unknown types are errors with stable codes", () => {
  const code = (text: string) => {
    try {
      parsePurl(text);
      return "ok";
    } catch (error) {
      return (error as PurlError).code;
    }
  };
  assert.equal(code("pkg:acmefw/dsp-driver@7"), "PURL_TYPE_UNKNOWN");
  assert.equal(code("npm/foo@1"), "PURL_INVALID");
  assert.equal(code("pkg:npm"), "PURL_INVALID");
  assert.equal(code("pkg:npm/%E0%A4%A@1"), "PURL_INVALID");
  assert.equal(code(`pkg:npm/${"a".repeat(3000)}`), "PURL_INVALID");
});

test("OSV ecosystems map to the package keys of purls", () => {
  assert.equal(packageKeyOfEcosystem("PyPI", "Paho_MQTT"), "pypi/paho-mqtt");
  assert.equal(packageKeyOfEcosystem("Debian:12", "expat"), "deb/debian/expat");
  assert.equal(
    packageKeyOfEcosystem("Maven", "org.eclipse.paho:org.eclipse.paho.client.mqttv3"),
    "maven/org.eclipse.paho/org.eclipse.paho.client.mqttv3",
  );
  assert.equal(packageKeyOfEcosystem("npm", "@scope/pkg"), "npm/@scope/pkg");
  assert.equal(packageKeyOfEcosystem("Go", "github.com/eclipse/paho.mqtt.golang"), "golang/github.com/eclipse/paho.mqtt.golang");
  assert.equal(packageKeyOfEcosystem("AcmeOS", "rtos"), undefined);
});
