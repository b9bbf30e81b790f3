// Load generator for `npm run bench -- enroll`, run in a worker thread so that it does not
// share the server's event loop. Each operation is a fresh mutual-TLS connection (as a new
// device makes), one request, one response, close. Plain JavaScript: workers do not inherit
// the TypeScript loader.
import { request } from "node:https";
import { connect } from "node:tls";
import { parentPort, workerData } from "node:worker_threads";

const { mode, host, port, ca, items, concurrency, deadline } = workerData;
const latencies = [];
let next = 0;
let ok = 0;
const failures = [];

function viaTls({ body, cert, key }) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca, cert, key, servername: "", rejectUnauthorized: true }, () => {
      socket.write(
        `POST /x HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/pkcs10\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (c) => (text += c));
    socket.on("end", () => (text.startsWith("HTTP/1.1 200") ? resolve() : reject(new Error(text.slice(0, 120)))));
    socket.on("error", reject);
  });
}

function viaHttps({ body, cert, key }) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path: "/.well-known/est/simpleenroll",
        method: "POST",
        ca,
        cert,
        key,
        servername: "",
        agent: false,
        headers: { "content-type": "application/pkcs10", "content-length": Buffer.byteLength(body), connection: "close" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode} ${text.slice(0, 200)}`))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function loop() {
  while (next < items.length && Date.now() < deadline) {
    const item = items[next++];
    const start = performance.now();
    try {
      await (mode === "bare" ? viaTls(item) : viaHttps(item));
      latencies.push(performance.now() - start);
      ok++;
    } catch (error) {
      if (failures.length < 5) failures.push(String(error.message ?? error));
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, loop));
const seconds = (performance.now() - started) / 1000;
parentPort.postMessage({ ok, attempted: next, seconds, latencies, failures });
