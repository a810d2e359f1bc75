// Every power button the node has, watched from as early as init can: a first
// scan right after /dev and the early driver load, then again whenever more
// devices may have appeared (after the udev coldplug). A device is watched
// once; a watch that ends (the device went away) lets a later scan pick it up.
import { powerButtons, watchPowerButton } from "./power-button.ts";

export class PowerButtonWatch {
  private readonly watched = new Set<string>();

  constructor(
    private readonly onPress: (device: string) => void,
    private readonly sysfs = "/sys/class/input",
  ) {}

  /** Starts watching the buttons not watched yet; returns those. */
  scan(): string[] {
    const fresh = powerButtons(this.sysfs).filter((d) => !this.watched.has(d));
    for (const d of fresh) {
      this.watched.add(d);
      void watchPowerButton(d, () => this.onPress(d)).then(() => this.watched.delete(d));
    }
    return fresh;
  }

  get devices(): string[] {
    return [...this.watched];
  }
}
