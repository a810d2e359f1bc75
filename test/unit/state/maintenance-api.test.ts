// The maintenance API (Talos's maintenance service) in-process on loopback:
// a client that skips verification reaches ApplyConfiguration, Version and
// Disks, and nothing else; the certificate the console's fingerprint names is
// the one the server presents.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import { ApiError, connect, type MachineClient } from "../../../src/api/client.ts";
import { MAINTENANCE_METHODS, startMaintenanceApi, type MaintenanceApi } from "../../../src/api/maintenance.ts";
import { FakeBackend } from "../../helpers/fake-backend.ts";

let api: MaintenanceApi;
let backend: FakeBackend;
let c: MachineClient;

beforeAll(async () => {
  backend = new FakeBackend();
  backend.fakeDisks = [
    {
      size: 4 * 2 ** 30,
      model: "QEMU HARDDISK",
      deviceName: "vda",
      name: "",
      serial: "",
      modalias: "virtio:d00000002v00001AF4",
      uuid: "",
      wwid: "",
      type: "HDD",
      busPath: "/pci0000:00/0000:00:04.0",
      systemDisk: false,
      subsystem: "/sys/class/block",
      readonly: false,
    },
  ];
  api = await startMaintenanceApi(backend, { port: 0, host: "127.0.0.1" });
  c = connect({ endpoint: `127.0.0.1:${api.tcpPort}`, insecure: true, timeoutMs: 5000 });
});

afterAll(async () => {
  c.close();
  await api.close();
});

describe("maintenance API", () => {
  test("serves exactly Talos's maintenance set", () => {
    expect(MAINTENANCE_METHODS).toEqual({ "machine.MachineService": ["ApplyConfiguration", "Version"], "storage.StorageService": ["Disks"] });
  });

  test("Version and Disks answer an insecure client", async () => {
    expect((await c.version()).version?.tag).toBeTruthy();
    const d = await c.disks();
    expect(d.disks).toHaveLength(1);
    expect(d.disks[0]).toMatchObject({ device_name: "vda", size: 4 * 2 ** 30, type: "HDD", bus_path: "/pci0000:00/0000:00:04.0" });
  });

  test("ApplyConfiguration reaches the backend", async () => {
    const r = await c.applyConfiguration({ data: "version: v1alpha1\nmachine:\n  hostname: m1\n" });
    expect(r.mode).toBe("AUTO");
    expect(backend.config).toContain("m1");
  });

  test("anything else is UNIMPLEMENTED", async () => {
    for (const call of [() => c.serviceList(), () => c.reboot(), () => c.reset({}), () => c.getConfiguration()]) {
      const e = await call().catch((x) => x);
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).codeName).toBe("UNIMPLEMENTED");
    }
  });

  test("the fingerprint is the SHA-256 of the certificate the server presents", async () => {
    const der = await new Promise<Buffer>((resolve, reject) => {
      const s = tlsConnect({ host: "127.0.0.1", port: api.tcpPort, rejectUnauthorized: false, ALPNProtocols: ["h2"] }, () => {
        resolve(s.getPeerCertificate().raw);
        s.destroy();
      });
      s.on("error", reject);
    });
    const hex = createHash("sha256").update(der).digest("hex").toUpperCase();
    expect(api.fingerprint.replace(/:/g, "")).toBe(hex);
    expect(new X509Certificate(api.certPem).fingerprint256).toBe(api.fingerprint);
  });
});
