// Boot phase "kmsg", right after /dev: from here init's lines are kernel log
// records (Dmesg), and the lines held since exec are replayed into it.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { NodeContext } from "../context.ts";
import { errText, stdoutIsKernelConsole } from "../mechanisms/log.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/**
 * Phase "kmsg", right after /dev: from here init's lines are kernel log
 * records (Dmesg), and the lines held since exec are replayed into it.
 */
export function kmsgTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "unlimited /dev/kmsg",
      run: () => {
        if (ctx.sandbox) return skipped("sandbox: printk settings are the host's");
        // With the default "ratelimit" the kernel silently drops a burst of
        // writes (the boot writes hundreds). printk.devkmsg= on the cmdline
        // locks the setting: the write then fails and the cmdline's value stands.
        // The sysctl handler wants the trailing newline: "on" alone is EINVAL.
        const r = setPrintkDevkmsg("on");
        if (r !== "on") return skipped(r);
      },
    },
    {
      name: "attach /dev/kmsg",
      run: () => {
        if (ctx.sandbox) return skipped("sandbox: /dev/kmsg is the host's kernel log");
        const why = ctx.log.attachKmsg("/dev/kmsg", stdoutIsKernelConsole());
        if (why) return skipped(`/dev/kmsg not writable: ${why}`);
        if (ctx.log.consoleViaKmsg) ctx.log.info("  init's lines reach the console through the kernel log from here");
      },
    },
  ];
}

/** kernel.printk_devkmsg: "on" when set, else why not (and the value that stands). */
function setPrintkDevkmsg(value: string): string {
  const path = "/proc/sys/kernel/printk_devkmsg";
  try {
    writeFileSync(path, `${value}\n`);
    return value;
  } catch (e) {
    const now = existsSync(path) ? readFileSync(path, "utf8").trim() : "absent";
    return now === value ? value : `cannot set ${path} (${(e as NodeJS.ErrnoException).code ?? errText(e)}): it stays "${now}"`;
  }
}
