// A reader client for sandbox tests, run inside a node's network namespace:
//   bun config-reader.ts <ca.crt> <client.crt> <client.key> <secret-file>
// connects to 127.0.0.1:50000 with mutual TLS, prints "ready", then answers
// each "get" line on stdin with one GetConfiguration, summarised on one line:
// "ok redacted=<REDACTED present> key=<the secret present> last-flag=<flag-9998 present>".
import { readFileSync } from "node:fs";
import { connect } from "../../src/api/client.ts";

const [caPath, certPath, keyPath, secretPath] = process.argv.slice(2);
if (!caPath || !certPath || !keyPath || !secretPath) throw new Error("usage: config-reader.ts <ca.crt> <client.crt> <client.key> <secret-file>");
const secret = readFileSync(secretPath, "utf8");
const api = connect({
  endpoint: "127.0.0.1:50000",
  tls: { ca: readFileSync(caPath, "utf8"), cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") },
  timeoutMs: 300_000,
});
await api.hostname(); // connected (TLS handshake done) before any measured call
process.stdout.write("ready\n");
let buf = "";
for await (const chunk of process.stdin) {
  buf += chunk.toString();
  for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
    buf = buf.slice(nl + 1);
    const text = await api.getConfiguration();
    process.stdout.write(`ok redacted=${text.includes("REDACTED")} key=${text.includes(secret)} last-flag=${text.includes("flag-9998")}\n`);
  }
}
api.close();
