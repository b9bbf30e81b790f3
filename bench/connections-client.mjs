// Client side of `npm run bench -- connections`, in its own process (so that its memory is not
// counted as the broker's): opens one mutual-TLS connection per identity, sends a minimal
// MQTT 3.1.1 CONNECT (clean session, keepalive 0: an idle device), waits for CONNACK 0 and keeps
// the connection open until the parent says `close`. Reports progress and the result over IPC.
import { readFileSync } from "node:fs";
import { setInterval, clearInterval } from "node:timers";
import { connect } from "node:tls";

const { port, ca, identities, concurrency, deadline } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sockets = [];
let next = 0;
let ok = 0;
const failures = [];

function connectPacket(clientId) {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

function open({ id, cert, key }) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, ca, cert, key, servername: "" }, () => socket.write(connectPacket(id)));
    socket.setNoDelay(true);
    socket.once("data", (data) => {
      if (data[0] === 0x20 && data[3] === 0x00) {
        ok++;
        sockets.push(socket);
      } else if (failures.length < 5) failures.push(`${id}: CONNACK ${data[3]}`);
      resolve();
    });
    socket.on("error", (error) => {
      if (failures.length < 5) failures.push(`${id}: ${error.code ?? error.message}`);
      resolve();
    });
  });
}

async function lane() {
  while (next < identities.length && Date.now() < deadline) await open(identities[next++]);
}

const report = setInterval(() => process.send({ progress: ok }), 1000);
await Promise.all(Array.from({ length: concurrency }, lane));
clearInterval(report);
process.send({ done: true, ok, attempted: next, failures });
process.on("message", (m) => {
  if (m === "close") {
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
});
