// Bench-only floor for the dashboard's RSS: the least a dashboard can be — a
// Bun program compiled like minos that loads the machine API client (protobufjs,
// the schema, node:http2) and calls Version every second. What the dashboard
// costs beyond this is its own.
//   api-client <socket>
import { connect } from "../../src/api/client.ts";

const c = connect({ endpoint: `unix:${process.argv[2]!}` });
const tick = async () => {
  const v = await c.version();
  process.stdout.write(`${v.version?.tag ?? "?"}\n`);
};
await tick();
setInterval(tick, 1000);
