// Health checks that ask the service itself, not "the process exists".
// containerd: grpc.health.v1.Health/Check on its socket. The message types are
// tiny, so they are encoded by hand (HealthCheckRequest{service=""} is zero
// bytes; HealthCheckResponse is field 1, a varint status, SERVING = 1), sent
// as one call on a connection of its own (src/api/h2/unary-client.ts): no
// grpc-js, and no node:http2, in PID 1 for it.
import { existsSync } from "node:fs";
import { unaryOverSocket } from "../../api/h2/unary-client.ts";
import { ApiError } from "../../api/transport.ts";
import type { HealthCheck } from "./spec.ts";

const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** Decodes HealthCheckResponse's `status` (field 1, varint); absent means 0 (UNKNOWN). */
export function decodeHealthStatus(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i++]!;
    if (tag === 0x08) {
      let v = 0;
      let shift = 0;
      for (;;) {
        const b = buf[i++]!;
        v |= (b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
      }
      return v;
    }
    return 0; // an unexpected field: treat as UNKNOWN rather than guess
  }
  return 0;
}

/** One Health/Check call on a fresh connection (a long-lived channel would back off for minutes while the socket is still missing). */
export async function grpcHealthCheck(socketPath: string, timeoutMs: number, service = ""): Promise<void> {
  if (!existsSync(socketPath)) throw new Error(`${socketPath} does not exist yet`);
  const request = service ? Buffer.concat([Buffer.from([0x0a, Buffer.byteLength(service)]), Buffer.from(service)]) : Buffer.alloc(0);
  let status: number;
  try {
    status = decodeHealthStatus(Buffer.from(await unaryOverSocket(socketPath, "/grpc.health.v1.Health/Check", request, { timeoutMs })));
  } catch (e) {
    throw new Error(`Health/Check: ${e instanceof ApiError ? e.details : (e as Error).message}`);
  }
  if (status !== 1) throw new Error(`Health/Check: ${SERVING_STATUS[status] ?? status}`);
}

export function grpcHealth(socketPath: string): HealthCheck {
  return {
    check: () => grpcHealthCheck(socketPath, 2000),
    startIntervalMs: 100,
    intervalMs: 5000,
    timeoutMs: 3000,
  };
}

/** A unix socket that a daemon creates once it serves (udevd's control socket). */
export function socketExists(path: string): HealthCheck {
  return {
    check: async () => {
      if (!existsSync(path)) throw new Error(`${path} does not exist`);
    },
    startIntervalMs: 100,
    intervalMs: 5000,
    timeoutMs: 1000,
  };
}
