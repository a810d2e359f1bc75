// The maintenance API (Talos's maintenance service): what a node with no
// config serves on TCP 50000 so an operator can give it one. TLS with a
// self-signed certificate made at start (the client skips verification:
// `minosctl apply-config --insecure`), no client certificates, and only the
// calls Talos's maintenance service takes: ApplyConfiguration, Version and
// storage's Disks. Everything else is
// UNIMPLEMENTED. init closes it when a config was applied and starts the
// real API (mutual TLS with the config's machine.ca).
import { cryptoLib, osLib } from "../lib/node-libs.ts";
import type { MachineBackend } from "../init/backend/contract.ts";
import type { CallContext } from "./handler.ts";
import { GRPC_SERVER_DEFAULTS, GrpcServer, type MethodHandler } from "./grpc-server.ts";
import { machineService } from "./handlers/machine.ts";
import { storageService } from "./handlers/storage.ts";
import { generateCa, issueServerCert } from "./pki/certs.ts";
import { decode, encode, serviceMethods, type ServiceName } from "./schema.ts";
import { toStatus } from "./status.ts";

/** What the maintenance server answers, by service: Talos's maintenance set. */
export const MAINTENANCE_METHODS: Partial<Record<ServiceName, string[]>> = {
  "machine.MachineService": ["ApplyConfiguration", "Version"],
  "storage.StorageService": ["Disks"],
};

export interface MaintenanceApi {
  readonly tcpPort: number;
  /** SHA-256 fingerprint of the serving certificate ("AB:CD:…"), for the console. */
  readonly fingerprint: string;
  readonly certPem: string;
  close(): Promise<void>;
}

export interface MaintenanceOptions {
  port: number;
  host?: string;
}

type Unary = (req: unknown, ctx: CallContext) => Promise<unknown>;

/** The node's addresses (v4 and v6, no loopback), for the console and the certificate. */

/** host:port as a client dials it ("[v6]:port"). */
export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

export function nodeAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(osLib().networkInterfaces())) for (const a of list ?? []) if (!a.internal) out.push(a.address.replace(/%.*$/, ""));
  return out;
}

export async function startMaintenanceApi(backend: MachineBackend, opts: MaintenanceOptions): Promise<MaintenanceApi> {
  const ca = generateCa("minos maintenance");
  const addresses = ["127.0.0.1", ...nodeAddresses()];
  const serving = issueServerCert(ca, ["localhost"], addresses);
  const fingerprint = new (cryptoLib().X509Certificate)(serving.cert).fingerprint256;
  const impls: Partial<Record<ServiceName, Record<string, unknown>>> = {
    "machine.MachineService": machineService(backend) as unknown as Record<string, unknown>,
    "storage.StorageService": storageService(backend) as unknown as Record<string, unknown>,
  };
  const methods = new Map<string, MethodHandler>();
  for (const [service, names] of Object.entries(MAINTENANCE_METHODS) as [ServiceName, string[]][]) {
    for (const m of serviceMethods(service).filter((x) => names.includes(x.name))) {
      const handler = impls[service]![m.name] as Unary;
      methods.set(m.path, {
        requestStream: false,
        handle(call, bytes) {
          // Every caller is admin here, as in Talos's maintenance service: the config it applies is what decides.
          (async () =>
            handler(decode<object>(m.requestType, bytes), { role: "os:admin", hostname: safe(() => backend.hostname()), signal: call.signal }))().then(
            (res) => call.end(undefined, encode(m.responseType, res as object)),
            (e) => call.end(toStatus(e)),
          );
        },
      });
    }
  }
  // TLS without client certificates: the client skips verifying ours (--insecure).
  const server = new GrpcServer(methods, { ...GRPC_SERVER_DEFAULTS, tls: { cert: serving.cert, key: serving.key, requestCert: false } });
  const tcpPort = await server.listen({ host: opts.host ?? "0.0.0.0", port: opts.port });
  return {
    tcpPort,
    fingerprint,
    certPem: serving.cert,
    close: () => server.shutdown(1000),
  };
}

function safe(f: () => string): string {
  try {
    return f();
  } catch {
    return "";
  }
}
