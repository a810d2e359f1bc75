// bun run boot [--tcg|--kvm] [--initrd FILE] [-- KERNEL CMDLINE WORDS...]
//   Boots dist/vmlinuz + dist/initramfs.cpio.zst under QEMU with the serial
//   console on this terminal. The node's API is forwarded to 127.0.0.1:50000
//   (nothing else is reachable, either way). Ctrl-A X quits QEMU; the node's
//   own poweroff (or QEMU's power button) ends it with exit code 0.
//   Example: bun run boot -- minos.config=/system/state/bad.yaml
import { API_PORT, BASE_APPEND, NET_APPEND, bootVm, kvmWorks } from "./vm.ts";
import { IMAGE_ZSTD, VMLINUZ } from "../build/image.ts";

const args = process.argv.slice(2);
const dash = args.indexOf("--");
const extra = dash >= 0 ? args.slice(dash + 1).join(" ") : "";
const flags = dash >= 0 ? args.slice(0, dash) : args;
const initrdAt = flags.indexOf("--initrd");
const initrd = initrdAt >= 0 ? flags[initrdAt + 1]! : IMAGE_ZSTD;
const accel = flags.includes("--tcg") ? "tcg" : flags.includes("--kvm") ? "kvm" : "auto";
const kvm = accel === "auto" ? await kvmWorks() : accel === "kvm";

console.error(`boot: ${VMLINUZ} + ${initrd}, ${kvm ? "KVM" : "TCG (no working KVM here: slower)"}; cmdline: ${BASE_APPEND} ${NET_APPEND} ${extra}`.trimEnd());
console.error(`boot: machine API on 127.0.0.1:${API_PORT}; Ctrl-A X quits QEMU`);
const vm = await bootVm({ initrd, append: extra, hostPort: API_PORT, interactive: true, accel: kvm ? "kvm" : "tcg" });
// A signal to this script (not the terminal's Ctrl-C: QEMU owns the raw terminal) ends QEMU too.
for (const sig of ["SIGTERM", "SIGHUP", "SIGINT"] as const) process.on(sig, () => void vm.kill().then(() => process.exit(128 + 15)));
const code = await vm.exited;
await vm.kill();
console.error(`boot: QEMU exited ${code}`);
process.exit(code ?? 1);
