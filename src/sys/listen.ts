// listen(2) again on a socket that already listens: Linux then only changes
// its backlog. Bun's net servers listen with a fixed backlog of 512 whatever
// they are asked; a burst of connects to the machine API overflows that.
// Also finds the descriptor of this process's listening unix socket by path
// (/proc/net/unix names the inode, /proc/self/fd links to socket:[inode]).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { check, libc, T } from "./ffi.ts";

const sym = libc({ listen: { args: [T.i32, T.i32], returns: T.i32 } });

/** Sets the listen backlog of a listening socket (the kernel caps it at net.core.somaxconn). */
export function relisten(fd: number, backlog: number): void {
  check(sym().listen(fd, backlog), "listen");
}

/** The fd of this process's listening unix socket bound at `path`; undefined when there is none. */
export function listeningUnixFd(path: string): number | undefined {
  const inodes = new Set<string>();
  for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = listening
    if (f.length >= 8 && f[7] === path && (Number.parseInt(f[3]!, 16) & 0x10000) !== 0) inodes.add(f[6]!);
  }
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inodes.has(m[1]!)) return Number(fd);
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}
