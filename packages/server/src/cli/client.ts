import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { isIP } from "node:net";
import { ErrorBody } from "@vigil/contract";
import { VigilError } from "../core/index.js";

export interface ApiTarget {
  readonly url: string;
  /** PEM of the CA that signs the server's certificate (absent for plain HTTP). */
  readonly ca?: string | undefined;
  readonly token?: string | undefined;
}

/** An error the server answered with: its HTTP status and the body's stable code. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string | undefined;
  /** AUTH_MFA_REQUIRED only: the login challenge to answer with a second factor. */
  readonly challenge: ErrorBody["error"]["challenge"];
  constructor(status: number, body: ErrorBody["error"]) {
    super(body.message);
    this.name = "ApiError";
    this.status = status;
    this.code = body.code;
    this.hint = body.hint;
    this.challenge = body.challenge;
  }
}

/** A small JSON-over-HTTPS client that pins the server's CA; used by the CLI and tests. */
export async function callApi<T>(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; data: T }> {
  const url = new URL(path, target.url);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { accept: "application/json" };
  if (payload) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(payload.length);
  }
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = send(
      url,
      {
        method,
        headers,
        ...(url.protocol === "https:"
          ? { ca: target.ca, servername: isIP(url.hostname.replace(/^\[|\]$/g, "")) === 0 ? url.hostname : "" }
          : {}),
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out after 30 s")));
    req.on("error", (error) =>
      reject(
        new VigilError(
          "CLI_SERVER_UNREACHABLE",
          `cannot reach Vigil at ${target.url}: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
          {
            cause: error,
            hint: "Is `vigil up` running? For a remote server, check --server and that --ca-file is the CA that signed its certificate.",
          },
        ),
      ),
    );
    req.end(payload);
  });
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (status >= 400) {
    const parsed = ErrorBody.safeParse(data);
    if (parsed.success) throw new ApiError(status, parsed.data.error);
    throw new ApiError(status, { code: "INTERNAL", message: `HTTP ${status}: ${text.slice(0, 200)}` });
  }
  return { status, data: data as T };
}
