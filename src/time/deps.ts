// What the time-sync code needs from the world, injected so the tests can run it
// against a fake clock, fake timers and an in-memory network.

/** Reads the clock being disciplined. */
export interface Clock {
  /** CLOCK_REALTIME (or a stand-in), Unix ns. */
  realtimeNs(): bigint;
}

/** Timers and a monotonic clock to measure them (never stepped, unlike Clock). */
export interface Timers {
  /** Calls `fn` after `ms`; the returned function cancels. */
  setTimeout(fn: () => void, ms: number): () => void;
  /** Monotonic milliseconds. */
  monoMs(): number;
}

/** One UDP socket. */
export interface UdpEndpoint {
  send(data: Uint8Array, address: string, port: number): void;
  close(): void;
}

export type Datagram = (data: Uint8Array, address: string, port: number) => void;

/**
 * Opens UDP sockets on an ephemeral port (a fresh one per query). `onError`
 * receives socket errors, notably ECONNREFUSED when the kernel reports an ICMP
 * port-unreachable for what we sent.
 */
export interface UdpTransport {
  open(family: 4 | 6, onDatagram: Datagram, onError: (e: Error) => void): Promise<UdpEndpoint>;
}

/** Host name -> addresses (only called for names, never for IP literals). */
export type Resolver = (name: string) => Promise<string[]>;

export const realTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  monoMs: () => performance.now(),
};
