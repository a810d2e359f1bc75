// The boot shim on a real kernel (README, "The root filesystem": the /proc/self/maps shim): the Debian kernel starts
// /sbin/init from the initramfs as PID 1 with no procfs mounted, and the Bun
// runtime starts anyway. "-- --check-runtime" hands init that flag as argv; it
// prints its JSON and returns, the kernel panics ("Attempted to kill init"),
// and panic=-1 with -no-reboot turns that into QEMU's exit.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bootVm, ensureImage, kernelTime, type Vm } from "../../scripts/vm.ts";

let vm: Vm | undefined;
beforeAll(() => ensureImage(), 300_000);
afterAll(async () => await vm?.kill());

test("PID 1 starts from the initramfs under a real kernel, without procfs, with sane stack bounds", async () => {
  vm = await bootVm({ append: "-- --check-runtime" });
  const json = await vm.waitForLine(/^\{"pid":/, 90_000);
  expect(JSON.parse(json.text)).toEqual({ pid: 1, procMounted: false, recursion: "RangeError" });
  const run = await vm.waitForLine(/Run \/sbin\/init as init process/, 1_000);
  await vm.waitForLine(/Attempted to kill init/, 30_000);
  await vm.exited;
  const unpack = vm.lines.find((l) => /Trying to unpack rootfs/.test(l.text));
  const freed = vm.lines.find((l) => /Freeing initrd memory/.test(l.text));
  console.log(
    `vm-shim (${vm.kvm ? "KVM" : "TCG"}): kernel -> exec /sbin/init ${kernelTime(run.text)?.toFixed(2)} s (initramfs unpack ` +
      `${((kernelTime(freed?.text ?? "") ?? 0) - (kernelTime(unpack?.text ?? "") ?? 0)).toFixed(2)} s); ` +
      `PID 1 JSON at host +${(json.t / 1000).toFixed(2)} s after QEMU start, exec->JSON ${((json.t - run.t) / 1000).toFixed(2)} s`,
  );
}, 150_000);
