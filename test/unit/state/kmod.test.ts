// modules.dep as init reads it for the modules it loads itself (finit_module):
// names normalised as the kernel does (dashes are underscores), dependencies
// in load order.
import { expect, test } from "bun:test";
import { moduleName, parseModulesDep } from "../../../src/init/mechanisms/kmod.ts";

const DEP = `kernel/fs/xfs/xfs.ko: kernel/lib/libcrc32c.ko
kernel/drivers/acpi/button.ko:
kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/drivers/block/virtio-blk.ko.xz:
`;

test("modules.dep: path and dependencies by module name", () => {
  const m = parseModulesDep(DEP);
  expect(m.get("button")).toEqual({ path: "kernel/drivers/acpi/button.ko", deps: [] });
  expect(m.get("xfs")).toEqual({ path: "kernel/fs/xfs/xfs.ko", deps: ["kernel/lib/libcrc32c.ko"] });
  expect(m.get("br_netfilter")?.deps).toEqual(["kernel/net/bridge/bridge.ko", "kernel/net/802/stp.ko", "kernel/net/llc/llc.ko"]);
  expect(m.get("virtio_blk")?.path).toBe("kernel/drivers/block/virtio-blk.ko.xz");
  expect(m.size).toBe(4);
});

test("module names: basename without .ko (or .ko.xz/.zst), dashes as underscores", () => {
  expect(moduleName("kernel/drivers/block/virtio-blk.ko.xz")).toBe("virtio_blk");
  expect(moduleName("kernel/drivers/input/evdev.ko")).toBe("evdev");
  expect(moduleName("kernel/fs/xfs/xfs.ko.zst")).toBe("xfs");
});
