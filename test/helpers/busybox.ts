// A static BusyBox for the sandbox tests' extra services (the rootfs has no
// shell, by design). Fetched like the rootfs's packages: Debian's
// busybox-static via apt-get download into the git-ignored .cache, and copied
// only into a sandbox's private rootfs copy, never into dist/rootfs.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fetchDebs } from "../../build/debs.ts";
import type { SandboxFile } from "../../scripts/sandbox.ts";

/** Where the tests' services find it inside the sandbox. */
export const BUSYBOX = "/test/busybox";

let cached: string | undefined;

/** The host path of the static busybox binary. */
export function busyboxPath(): string {
  if (cached) return cached;
  const deb = fetchDebs(["busybox-static"]).get("busybox-static")!;
  const bin = join(deb.tree, "bin/busybox");
  if (!existsSync(bin)) throw new Error(`busybox-static has no bin/busybox in ${deb.tree}`);
  return (cached = bin);
}

/** The sandbox file entry that installs busybox at /test/busybox. */
export function busyboxFile(): SandboxFile {
  return { path: BUSYBOX, from: busyboxPath(), mode: 0o755 };
}

/** A service command: busybox sh -c SCRIPT (sh's own applets: sleep, kill, echo... resolve inside busybox). */
export function sh(script: string): string[] {
  return [BUSYBOX, "sh", "-c", script];
}
