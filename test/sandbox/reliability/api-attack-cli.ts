// A separate attacker process (so it can run inside the node's network
// namespace under nsenter, and be killed as a client is): opens never-reading
// gRPC streams, prints "ready <failed connections>", then holds them until
// killed. Usage: bun api-attack-cli.ts <unix:PATH | tls:HOST:PORT:CREDS.json> <connections> <streams each> <calls.json>
import { readFileSync } from "node:fs";
import { type Call, type Dial, neverReadingClients, tlsDial, unixDial } from "./api-attack.ts";

const [target, conns, each, callsFile] = process.argv.slice(2);
if (!target || !conns || !each || !callsFile) throw new Error("usage: api-attack-cli.ts TARGET CONNECTIONS STREAMS_EACH CALLS.json");
const calls = JSON.parse(readFileSync(callsFile, "utf8")) as Call[];
let dial: Dial;
if (target.startsWith("unix:")) dial = unixDial(target.slice(5));
else {
  const [, host, port, credsFile] = target.split(":");
  dial = tlsDial(host!, Number(port), JSON.parse(readFileSync(credsFile!, "utf8")));
}
const clients = await neverReadingClients(dial, Number(conns), Number(each), calls);
console.log(`ready ${clients.failed}`);
setInterval(() => {}, 1 << 30);
