import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { promisify } from "node:util";

export const exec = promisify(execFile);

/** An EC P-256 key and a DER CSR for `cn`, made by the openssl CLI; returns file paths and the base64 body. */
export async function opensslCsr(
  dir: string,
  name: string,
  cn: string,
  keyArgs: string[] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
) {
  const key = join(dir, `${name}.key`);
  const der = join(dir, `${name}.csr.der`);
  await exec("openssl", [
    "req",
    "-new",
    ...keyArgs,
    "-nodes",
    "-keyout",
    key,
    "-subj",
    `/CN=${cn}`,
    "-outform",
    "DER",
    "-out",
    der,
  ]);
  return { key, der, body: readFileSync(der).toString("base64") };
}

/** A CSR for an existing key file. */
export async function opensslCsrForKey(dir: string, name: string, cn: string, key: string) {
  const der = join(dir, `${name}.csr.der`);
  await exec("openssl", ["req", "-new", "-key", key, "-subj", `/CN=${cn}`, "-outform", "DER", "-out", der]);
  return { key, der, body: readFileSync(der).toString("base64") };
}

/** A manufacturer CA and one factory (IDevID-style) certificate signed by it, with the openssl CLI. */
export async function opensslFactory(dir: string, name: string, deviceCn: string) {
  const caKey = join(dir, `${name}-ca.key`);
  const caPem = join(dir, `${name}-ca.pem`);
  await exec("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    caKey,
    "-out",
    caPem,
    "-days",
    "3650",
    "-subj",
    `/CN=${name} Manufacturing CA/O=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const devKey = join(dir, `${name}-idevid.key`);
  const devCsr = join(dir, `${name}-idevid.csr`);
  const devPem = join(dir, `${name}-idevid.pem`);
  const ext = join(dir, `${name}-idevid.ext`);
  writeFileSync(ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
  await exec("openssl", [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    devKey,
    "-out",
    devCsr,
    "-subj",
    `/CN=${deviceCn}/serialNumber=SN-${deviceCn}`,
  ]);
  await exec("openssl", [
    "x509",
    "-req",
    "-in",
    devCsr,
    "-CA",
    caPem,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    devPem,
    "-days",
    "3650",
    "-extfile",
    ext,
  ]);
  const serial = (await exec("openssl", ["x509", "-in", devPem, "-noout", "-serial"])).stdout
    .trim()
    .replace(/^serial=/, "")
    .toLowerCase();
  return { caPem, caKey, devKey, devPem, serial };
}

export interface EstResponse {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** POSTs an EST request with node's https client (optionally with a client certificate). */
export function estPost(
  base: string,
  ca: string,
  path: string,
  body: string | Buffer,
  options: { auth?: string; cert?: string; key?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<EstResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      {
        method: "POST",
        ca,
        ...(options.cert ? { cert: readFileSync(options.cert), key: readFileSync(options.key ?? "") } : {}),
        headers: {
          "content-type": options.contentType ?? "application/pkcs10",
          ...(options.auth ? { authorization: `Basic ${Buffer.from(options.auth).toString("base64")}` } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export function errorCode(response: EstResponse): string | undefined {
  try {
    return (JSON.parse(response.text) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}
