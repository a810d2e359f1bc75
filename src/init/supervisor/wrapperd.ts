// The one switch between starting services through /sbin/wrapperd (always, on
// a built rootfs: it is a hard link of /sbin/init) and starting them directly
// (a rootfs without it, e.g. an experiment). Directly, init puts the child in
// its cgroup after posix_spawn returns, which races with the child's first fork.
import { existsSync } from "node:fs";
import { WRAPPERD } from "./launch.ts";

export function viaWrapperd(path = WRAPPERD): { use: boolean; why?: string } {
  if (existsSync(path)) return { use: true };
  return { use: false, why: `${path} is not in the rootfs` };
}
