import fastifyStatic from "@fastify/static";
import { existsSync, statSync } from "node:fs";
import { join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyPluginAsync, FastifyReply } from "fastify";

/**
 * The built console (packages/console/dist). This file runs from `packages/server/src/api/routes`
 * (tsx) or `packages/server/dist/api/routes` (built): both are four levels below `packages/`.
 */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL("../../../../console/dist/", import.meta.url));

/**
 * Security headers of every console response. The CSP allows scripts and styles from the
 * console's own origin only (no inline script, no eval); images may be data: URLs (the TOTP
 * QR code); the page may not be framed (clickjacking) nor leak its URL in a Referer.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), usb=(), payment=()",
};

const MISSING_BUILD = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil console not built</title></head>
<body><main><h1>The Vigil console has not been built</h1>
<p>The API is running, but the web console's files are missing.</p>
<p>Run <code>npm run build</code> in the Vigil directory, then reload this page.</p>
<p>The API itself is documented at <a href="/docs">/docs</a>.</p></main></body></html>
`;

/**
 * Serves the console at /console/ (and redirects / to it). Paths under /console/ that are
 * not files get index.html (the single-page app routes them itself). Public routes: the
 * page holds no data; everything it shows comes from the authenticated API.
 */
export const consoleRoutes: FastifyPluginAsync<{ consoleDir?: string }> = async (app, options) => {
  const root = normalize(options.consoleDir ?? DEFAULT_CONSOLE_DIR);
  await app.register(fastifyStatic, { root, serve: false, decorateReply: true });
  app.addHook("onSend", async (_request, reply, payload) => {
    void reply.headers(CONSOLE_SECURITY_HEADERS);
    return payload;
  });

  const built = () => existsSync(join(root, "index.html"));
  const missing = (reply: FastifyReply) =>
    reply.status(503).header("cache-control", "no-store").type("text/html; charset=utf-8").send(MISSING_BUILD);
  const page = (reply: FastifyReply) =>
    built() ? reply.header("cache-control", "no-cache").sendFile("index.html", root, { cacheControl: false }) : missing(reply);

  app.get("/", { config: { public: true }, schema: { hide: true } }, async (_request, reply) => reply.redirect("/console/", 302));
  app.get("/console", { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
    reply.redirect("/console/", 301),
  );
  app.get<{ Params: { "*": string } }>(
    "/console/*",
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const rest = request.params["*"];
      if (rest === "" || rest === "index.html") return page(reply);
      // Only a real file inside the build directory is served; anything else is the app's own route.
      const file = normalize(join(root, rest));
      if (file.startsWith(root.endsWith(sep) ? root : root + sep) && isFile(file)) {
        // Vite names its assets by content hash: they never change.
        const immutable = rest.startsWith("assets/");
        return reply
          .header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache")
          .sendFile(rest, root, { cacheControl: false });
      }
      if (rest.startsWith("assets/")) {
        return reply.status(404).type("text/plain; charset=utf-8").send("not found");
      }
      return page(reply);
    },
  );
};

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
