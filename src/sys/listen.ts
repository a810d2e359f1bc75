// listen(2) again on a socket that already listens: Linux then only changes
// its backlog. Bun's net servers listen with a fixed backlog of 512 whatever
// they are asked; a burst of connects to the machine API overflows that.
// Also finds the descriptor of this process's listening unix socket by path
// or TCP port (/proc/net/{unix,tcp,tcp6} name the inode, /proc/self/fd links
// to socket:[inode]).
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
  return fdOfInode(inodes);
}

/** The fd of this process's listening TCP socket on `port` (IPv4 or IPv6); undefined when there is none. */
export function listeningTcpFd(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st ... inode (field 9); st 0A = LISTEN
      const f = line.trim().split(/\s+/);
      if (f.length >= 10 && f[3] === "0A" && Number.parseInt(f[1]!.split(":")[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  return fdOfInode(inodes);
}

function fdOfInode(inodes: Set<string>): number | undefined {
  if (inodes.size === 0) return undefined;
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
