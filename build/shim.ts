// The PID-1 boot shim (README, "The root filesystem": the /proc/self/maps shim). The Bun runtime aborts at start when
// glibc's pthread_getattr_np cannot read /proc/self/maps, and the kernel starts
// init before anything mounts /proc. So the rootfs carries a regular file at
// /proc/self/maps — hidden once init mounts procfs over /proc — whose lines cover
// the x86-64 stack randomisation window (16 GiB below 0x7ffffffff000) in 1 MiB
// steps. glibc takes the line containing __libc_stack_end and computes
// stacksize = RLIMIT_STACK - (line end - stack end): with 1 MiB lines that is
// 7-8 MiB, never more than the real 8 MiB stack. Lines are highest first
// because glibc clamps the size against the *previous* line's end; descending
// order makes that clamp a no-op.

export const STACK_TOP = 0x7ffffffff000n;
export const WINDOW = 16n << 30n; // 16 GiB
export const STEP = 1n << 20n; // 1 MiB

export function stackShim(): string {
  const lines: string[] = [];
  for (let end = STACK_TOP; end > STACK_TOP - WINDOW; end -= STEP) {
    const start = end - STEP;
    lines.push(`${start.toString(16)}-${end.toString(16)} rw-p 00000000 00:00 0                          [stack]`);
  }
  return lines.join("\n") + "\n";
}
