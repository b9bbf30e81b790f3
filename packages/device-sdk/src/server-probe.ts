import { request } from "node:https";
import { isIP } from "node:net";
import { HealthResponse } from "@vigil/contract";

/** Errors the device SDK raises, each with a stable code a device's firmware can act on. */
export class DeviceSdkError extends Error {
  readonly code:
    | "SDK_SERVER_UNREACHABLE"
    | "SDK_SERVER_UNTRUSTED"
    | "SDK_BAD_RESPONSE"
    | "SDK_ENROLLMENT_REFUSED"
    | "SDK_NOT_ENROLLED"
    | "SDK_CONNECT_REFUSED"
    | "SDK_CONNECTION_LOST"
    | "SDK_SUBSCRIBE_REFUSED";
  /** The server's error code, when it refused the request (e.g. ENROLLMENT_TOKEN_REPLAYED). */
  readonly serverCode: string | undefined;
  constructor(code: DeviceSdkError["code"], message: string, options?: { cause?: unknown; serverCode?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeviceSdkError";
    this.code = code;
    this.serverCode = options?.serverCode;
  }
}

const TLS_TRUST_ERRORS = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * Before a device does anything else it checks that it reaches *its* Vigil: the server must
 * present a certificate chained to the CA the device was provisioned with (never "trust on
 * first use"), and answer /healthz with a well-formed body. Enrollment builds on this.
 */
export async function probeServer(options: { url: string; ca: string; timeoutMs?: number }): Promise<HealthResponse> {
  const url = new URL("/healthz", options.url);
  if (url.protocol !== "https:")
    throw new DeviceSdkError(
      "SDK_SERVER_UNTRUSTED",
      `refusing ${url.protocol} for ${options.url}: devices talk to Vigil over HTTPS only`,
    );
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      url,
      { ca: options.ca, servername: isIP(host) === 0 ? host : "", timeout: options.timeoutMs ?? 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
          if (body.length > 64 * 1024) req.destroy(new DeviceSdkError("SDK_BAD_RESPONSE", "health response larger than 64 KiB"));
        });
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(body)
            : reject(new DeviceSdkError("SDK_BAD_RESPONSE", `health check answered HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("timeout", () =>
      req.destroy(
        new DeviceSdkError("SDK_SERVER_UNREACHABLE", `no answer from ${options.url} within ${options.timeoutMs ?? 10_000} ms`),
      ),
    );
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error instanceof DeviceSdkError) return reject(error);
      if (error.code !== undefined && TLS_TRUST_ERRORS.has(error.code)) {
        return reject(
          new DeviceSdkError(
            "SDK_SERVER_UNTRUSTED",
            `${options.url} presented a certificate the provisioned CA does not vouch for (${error.code})`,
            { cause: error },
          ),
        );
      }
      reject(
        new DeviceSdkError("SDK_SERVER_UNREACHABLE", `cannot reach ${options.url}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    });
    req.end();
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DeviceSdkError("SDK_BAD_RESPONSE", "health response is not JSON", { cause: error });
  }
  const result = HealthResponse.safeParse(parsed);
  if (!result.success)
    throw new DeviceSdkError(
      "SDK_BAD_RESPONSE",
      `health response has an unexpected shape: ${result.error.issues[0]?.message ?? "invalid"}`,
    );
  return result.data;
}
