// Opens a DashboardSource on the machine API. Kept apart from main.ts so the
// client is loaded only when the dashboard actually connects.
import { readFileSync } from "node:fs";
import { connect } from "../../api/client.ts";
import { readerSource } from "./client-source.ts";
import type { SourceFactory } from "./source.ts";

export interface Endpoint {
  /** "unix:/path" or "host:port". */
  endpoint: string;
  /** PEM file paths for mutual TLS (remote endpoints). */
  ca?: string;
  crt?: string;
  key?: string;
}

export function sourceFactory(target: Endpoint): SourceFactory {
  return async () => {
    // Read the certificate files on every (re)connect: a renewed certificate is picked up.
    const tls =
      target.ca && target.crt && target.key
        ? { ca: readFileSync(target.ca, "utf8"), cert: readFileSync(target.crt, "utf8"), key: readFileSync(target.key, "utf8") }
        : undefined;
    // Per-call deadline below the poll loop's, so a hung node surfaces as the client's own error.
    const client = connect({ endpoint: target.endpoint, tls, timeoutMs: 4000 });
    return readerSource(client);
  };
}
