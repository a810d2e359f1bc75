// The ACPI power button: what a hypervisor's or a cloud's "shut down" presses.
// The kernel's ACPI button driver exposes it as an input device that reports
// KEY_POWER; init finds the device by its key capability bitmap in sysfs and
// reads its input_event records (24 bytes on x86-64: timeval, type, code, value).
import { existsSync, openSync, readdirSync, readFileSync } from "node:fs";

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

/**
 * Calls `onPress` on every KEY_POWER press of `device`, until it ends. Read
 * through Bun.file().stream() (the event loop), not fs.createReadStream, which
 * would park a thread-pool thread in read(2) for the life of the node.
 */
export async function watchPowerButton(device: string, onPress: () => void): Promise<void> {
  let pending = Buffer.alloc(0);
  try {
    for await (const chunk of Bun.file(openSync(device, "r")).stream()) {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= INPUT_EVENT_SIZE) {
        const type = pending.readUInt16LE(16);
        const code = pending.readUInt16LE(18);
        const value = pending.readInt32LE(20);
        pending = pending.subarray(INPUT_EVENT_SIZE);
        if (type === EV_KEY && code === KEY_POWER && value === 1) onPress();
      }
    }
  } catch {
    // a device that goes away ends the watch, never init
  }
}
