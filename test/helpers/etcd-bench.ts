// Run inside the test's network namespace (`ip netns exec NS bun this.ts
// CONFIG_JSON`): etcd put latency (sequential) and throughput (concurrent)
// against one cluster's endpoint, with minos's own etcd client. Prints JSON.
import { readFileSync } from "node:fs";
import { EtcdClient } from "../../src/etcd/client.ts";

const cfg = JSON.parse(process.argv[2]!) as {
  endpoint: string;
  ca: string;
  cert: string;
  key: string;
  sequential: number;
  workers: number;
  perWorker: number;
  prefix: string;
};
const tls = { ca: readFileSync(cfg.ca, "utf8"), cert: readFileSync(cfg.cert, "utf8"), key: readFileSync(cfg.key, "utf8") };
const client = new EtcdClient({ endpoints: [cfg.endpoint], tls });
await client.put(`${cfg.prefix}warm`, "x");
const lat: number[] = [];
for (let i = 0; i < cfg.sequential; i++) {
  const t = performance.now();
  await client.put(`${cfg.prefix}s/${i}`, `v${i}`);
  lat.push(performance.now() - t);
}
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: cfg.workers }, async (_, w) => {
    for (let i = 0; i < cfg.perWorker; i++) await client.put(`${cfg.prefix}c/${w}/${i}`, "v");
  }),
);
const secs = (performance.now() - t0) / 1000;
client.close();
console.log(JSON.stringify({ p50: q(0.5), p99: q(0.99), throughput: (cfg.workers * cfg.perWorker) / secs }));
