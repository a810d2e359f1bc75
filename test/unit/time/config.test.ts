import { expect, test } from "bun:test";
import { parseGoDuration, timeSyncOptions } from "../../../src/time/config.ts";
import { parseServer } from "../../../src/time/servers.ts";

test("Go durations as Talos writes them", () => {
  expect(parseGoDuration("2m30s")).toBe(150_000);
  expect(parseGoDuration("1h")).toBe(3_600_000);
  expect(parseGoDuration("300ms")).toBe(300);
  expect(parseGoDuration("1.5s")).toBe(1_500);
  expect(parseGoDuration("0")).toBe(0);
  for (const bad of ["", "5", "2 m", "1d", "s"]) expect(() => parseGoDuration(bad)).toThrow("not a duration");
});

test("machine.time -> options: Talos's defaults (time.cloudflare.com, wait forever)", () => {
  expect(timeSyncOptions(undefined)).toEqual({ servers: ["time.cloudflare.com"], disabled: false });
  expect(timeSyncOptions({ servers: [], bootTimeout: "45s" })).toEqual({ servers: ["time.cloudflare.com"], disabled: false, bootTimeoutMs: 45_000 });
  expect(timeSyncOptions({ servers: ["10.0.0.1"], disabled: true })).toEqual({ servers: ["10.0.0.1"], disabled: true });
  expect(() => timeSyncOptions({ bootTimeout: "-1s" })).toThrow("negative");
});

test("server specs: names, addresses, ports, IPv6; URLs and PTP devices refused", () => {
  expect(parseServer("pool.ntp.org")).toEqual({ host: "pool.ntp.org", port: 123 });
  expect(parseServer("192.0.2.1:1123")).toEqual({ host: "192.0.2.1", port: 1123 });
  expect(parseServer("2001:db8::1")).toEqual({ host: "2001:db8::1", port: 123 });
  expect(parseServer("[2001:db8::1]:1123")).toEqual({ host: "2001:db8::1", port: 1123 });
  expect(() => parseServer("nts://time.cloudflare.com")).toThrow("not supported");
  expect(() => parseServer("/dev/ptp0")).toThrow("PTP");
  expect(() => parseServer("host:99999")).toThrow("expected host");
  expect(() => parseServer("host:abc")).toThrow("expected host");
});
