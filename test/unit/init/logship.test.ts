// Log shipping holds at most SHIP_BACKLOG_BYTES per destination, whatever the
// line rate: a burst of lines to a UDP destination, and to a TCP one that
// accepts and never reads, over loopback. Lines beyond it are dropped, and
// shipping goes on once the destination catches up.
import { expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { createServer, type Socket } from "node:net";
import { SHIP_BACKLOG_BYTES, SHIP_UDP_IN_FLIGHT, tcpSender, udpSender } from "../../../src/init/mechanisms/logship.ts";

const line = (i: number) => `${JSON.stringify({ msg: `${i} ${"y".repeat(200)}`, "talos-level": "info" })}\n`;

test("UDP: a burst of 200,000 lines keeps at most the in-flight bound queued, then shipping goes on", async () => {
  const rx = createSocket("udp4");
  const got: string[] = [];
  rx.on("message", (m) => got.push(m.toString()));
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", r));
  try {
    const tx = udpSender("127.0.0.1", rx.address().port);
    let most = 0;
    for (let i = 0; i < 200_000; i++) {
      tx.send(line(i));
      most = Math.max(most, tx.backlogBytes);
    }
    expect(most).toBeLessThanOrEqual(Math.min(SHIP_BACKLOG_BYTES, SHIP_UDP_IN_FLIGHT * line(199_999).length));
    expect(most).toBeGreaterThan(0);
    for (let i = 0; i < 200 && tx.backlogBytes > 0; i++) await Bun.sleep(10);
    expect(tx.backlogBytes).toBe(0);
    tx.send("after the burst\n");
    for (let i = 0; i < 200 && !got.includes("after the burst\n"); i++) await Bun.sleep(10);
    expect(got).toContain("after the burst\n");
    expect(got.length).toBeLessThanOrEqual(SHIP_UDP_IN_FLIGHT + 1);
  } finally {
    rx.close();
  }
});

test("TCP: a destination that never reads makes the sender hold at most SHIP_BACKLOG_BYTES", async () => {
  const peers: Socket[] = [];
  let received = 0;
  const server = createServer((s) => {
    peers.push(s);
    s.pause(); // accept, never read
    s.on("data", (d) => {
      received += d.length;
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as { port: number }).port;
    const tx = tcpSender("127.0.0.1", port);
    tx.send(line(0));
    for (let i = 0; i < 200 && peers.length === 0; i++) await Bun.sleep(10);
    expect(peers).toHaveLength(1);
    let most = 0;
    // 50,000 lines of ~230 bytes: ~11 MiB offered in bursts, with the loop turning between them.
    for (let burst = 0; burst < 50; burst++) {
      for (let i = 0; i < 1000; i++) {
        tx.send(line(i));
        most = Math.max(most, tx.backlogBytes);
      }
      await Bun.sleep(1);
    }
    expect(most).toBeLessThanOrEqual(SHIP_BACKLOG_BYTES);
    expect(most).toBeGreaterThan(SHIP_BACKLOG_BYTES / 2); // it was really held back, not drained
    peers[0]!.resume();
    for (let i = 0; i < 300 && tx.backlogBytes > 0; i++) await Bun.sleep(10);
    expect(tx.backlogBytes).toBe(0);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(11 << 20);
  } finally {
    for (const p of peers) p.destroy();
    server.close();
  }
});
