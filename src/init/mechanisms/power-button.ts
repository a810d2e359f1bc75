// The ACPI power button: what a hypervisor's or a cloud's "shut down" presses.
// The kernel's ACPI button driver exposes it as an input device that reports
// KEY_POWER; init finds the device by its key capability bitmap in sysfs and
// reads its input_event records (24 bytes on x86-64: timeval, type, code, value).
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";

export const EV_KEY = 1;
export const KEY_POWER = 116;
const INPUT_EVENT_SIZE = 24;

/** Does a sysfs `capabilities/key` bitmap (hex words, most significant first) include `key`? */
export function hasKey(bitmap: string, key: number): boolean {
  const words = bitmap.trim().split(/\s+/).reverse();
  const word = words[Math.floor(key / 64)];
  if (word === undefined) return false;
  return ((BigInt(`0x${word}`) >> BigInt(key % 64)) & 1n) === 1n;
}

/** /dev/input/eventN of every device that can report KEY_POWER. */
export function powerButtons(sysfs = "/sys/class/input"): string[] {
  if (!existsSync(sysfs)) return [];
  const out: string[] = [];
  for (const name of readdirSync(sysfs)) {
    if (!/^event\d+$/.test(name)) continue;
    try {
      if (hasKey(readFileSync(`${sysfs}/${name}/device/capabilities/key`, "utf8"), KEY_POWER)) out.push(`/dev/input/${name}`);
    } catch {}
  }
  return out;
}

/** How often a watched device is read: a press is noticed within this time. */
export const POWER_BUTTON_POLL_MS = 100;

/**
 * Calls `onPress` on every KEY_POWER press of `device`, until it ends (EOF or
 * an error such as ENODEV when the device goes away). The device is opened
 * O_NONBLOCK and drained on a short timer: on a real kernel (QEMU, Debian 6.1)
 * Bun.file(fd).stream() on an evdev node delivered nothing — the press reached
 * ACPI and the input device (its event count rose), yet the stream never
 * produced a chunk — and fs.createReadStream would park a thread-pool thread
 * in read(2) per device for the life of the node. Ten non-blocking reads a
 * second cost nothing measurable.
 */
export function watchPowerButton(device: string, onPress: () => void): Promise<void> {
  return new Promise((resolve) => {
    let fd: number;
    try {
      fd = openSync(device, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return resolve();
    }
    const buf = Buffer.alloc(INPUT_EVENT_SIZE * 64);
    let pending = Buffer.alloc(0);
    const end = () => {
      clearInterval(timer);
      try {
        closeSync(fd);
      } catch {}
      resolve();
    };
    const drain = () => {
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EAGAIN") return;
          return end(); // a device that goes away ends the watch, never init
        }
        if (n === 0) return end();
        pending = Buffer.concat([pending, buf.subarray(0, n)]);
        while (pending.length >= INPUT_EVENT_SIZE) {
          const type = pending.readUInt16LE(16);
          const code = pending.readUInt16LE(18);
          const value = pending.readInt32LE(20);
          pending = pending.subarray(INPUT_EVENT_SIZE);
          if (type === EV_KEY && code === KEY_POWER && value === 1) onPress();
        }
      }
    };
    const timer = setInterval(drain, POWER_BUTTON_POLL_MS);
    drain();
  });
}
