// A bare aedes node for the cluster benchmark's comparison: aedes 1.2 + mqemitter-redis +
// aedes-persistence-redis 12, no hooks, behind node:tls with client certificates required.
// argv[2]: JSON {redisUrl, id, certPem, keyPem, caPem}; prints {"port": n} once listening.
import { createRequire } from "node:module";
import { createServer } from "node:tls";
import { Aedes } from "aedes";

const require = createRequire(new URL("../packages/server/package.json", import.meta.url));
const { Redis } = require("ioredis");
const input = JSON.parse(process.argv[2]);
const url = new URL(input.redisUrl);
const db = Number(url.pathname.slice(1) || 0);
const subConn = new Redis({ host: url.hostname, port: Number(url.port || 6379), lazyConnect: true });
const pubConn = new Redis({ host: url.hostname, port: Number(url.port || 6379), lazyConnect: true });
await Promise.all([subConn.connect(), pubConn.connect()]);
const mq = require("mqemitter-redis")({ subConn, pubConn });
const persistence = require("aedes-persistence-redis")({ host: url.hostname, port: Number(url.port || 6379), db });
const broker = await Aedes.createBroker({ id: input.id, mq, persistence });
const server = createServer(
  { cert: input.certPem, key: input.keyPem, ca: input.caPem, requestCert: true, rejectUnauthorized: true, noDelay: true },
  broker.handle,
);
server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
// The benchmark is done with it: no graceful close (its Redis connections would race it).
process.on("SIGTERM", () => process.exit(0));
