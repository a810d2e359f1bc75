// UDP for NTP queries over Bun.udpSocket: non-blocking, event driven, so PID 1's
// event loop never waits on the network.
//
// Chosen over node:dgram because it is Bun's native socket (no compatibility
// layer). Our own client over an npm one: the candidates are `sntp` 3.0.2 and
// its successor `@hapi/sntp` 4.0.0 (read, not adopted): one 369-line file plus
// four @hapi dependencies, IPv4 only, ms resolution, 1900-epoch float math that
// breaks at the 2036 era rollover, no leap-indicator or source-address check,
// the first datagram (garbage included) ends the query, and a kiss-o'-death
// (stratum 0) passes its validity test and comes back with an offset computed
// from its zero timestamps (the caller must know to look at stratum). What we
// need on top (step/slew policy, backoff, KoD handling) is most of the work
// anyway; our codec and checks (packet.ts, check.ts, timestamp.ts) are ~320
// lines with comments.
//
// Verified in a Bun-compiled binary (bun 1.4.5, `bun build --compile
// test/fixtures/time/client.ts`): run inside a network namespace, it queried
// chronyd across a veth pair and synced — test/sandbox/time/sntp.test.ts
// builds and runs that binary on every run ("compiled binary syncs"). Measured
// (8 runs): round trip 0.25-0.5 ms, offset within 0.17 ms of chronyd, answer to
// "synced" 0.7-3.4 ms; under `bun run` 1.1-2.1 ms, 0.2-0.8 ms, 0.7-3.1 ms.
import type { Datagram, UdpEndpoint, UdpTransport } from "./deps.ts";

export const bunUdp: UdpTransport = {
  async open(family: 4 | 6, onDatagram: Datagram, onError: (e: Error) => void): Promise<UdpEndpoint> {
    const sock = await Bun.udpSocket({
      hostname: family === 6 ? "::" : "0.0.0.0",
      port: 0,
      binaryType: "uint8array",
      socket: {
        data(_s, data, port, address) {
          onDatagram(data, address, port);
        },
        // Bun reports ICMP errors (port unreachable -> ECONNREFUSED) on the
        // socket; without this handler it throws them as an uncaught error and
        // the process (PID 1!) dies — found by the sandbox test against a
        // closed port. Bun 1.4.5 calls it with the error as the ONLY argument,
        // though its types declare (socket, error): take whichever is an Error.
        error(...args: unknown[]) {
          const e = args.find((a) => a instanceof Error);
          onError(e instanceof Error ? e : new Error(`UDP socket error: ${String(args[0])}`));
        },
      },
    });
    return {
      send(data, address, port) {
        // false means the kernel's buffer was full: the datagram is lost, which
        // the query's timeout already covers, as for any lost UDP packet.
        sock.send(data, port, address);
      },
      close() {
        sock.close();
      },
    };
  },
};
