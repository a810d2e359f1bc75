// Signal dispositions and the calling thread's mask. Ignored signals and the
// blocked mask survive execve(2); the Bun runtime ignores SIGPIPE and SIGXFSZ, so a
// process that execs a service must put them back to default or every service
// would start with SIGPIPE ignored.
import { check, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";

const sym = libc({
  sigaction: { args: [T.i32, T.ptr, T.ptr], returns: T.i32 },
  sigemptyset: { args: [T.ptr], returns: T.i32 },
  pthread_sigmask: { args: [T.i32, T.ptr, T.ptr], returns: T.i32 },
});

const SIG_DFL = 0n;
const SIG_IGN = 1n;
const SIG_SETMASK = 2;
const SIGKILL = 9;
const SIGSTOP = 19;
/** glibc reserves 32 and 33 for itself (sigaction fails with EINVAL). */
const GLIBC_RESERVED = new Set([32, 33]);
const NSIG = 64;
/** sizeof(struct sigaction) in glibc x86-64: handler 8, sa_mask 128, flags 4 (+4 pad), restorer 8. */
const SIGACTION_SIZE = 152;

/** Puts every ignored signal back to SIG_DFL (handled ones are reset by execve itself). */
export function resetIgnoredSignals(): number[] {
  const s = sym();
  const reset: number[] = [];
  for (let sig = 1; sig <= NSIG; sig++) {
    if (sig === SIGKILL || sig === SIGSTOP || GLIBC_RESERVED.has(sig)) continue;
    const old = new BigUint64Array(SIGACTION_SIZE / 8);
    check(s.sigaction(sig, null, ptr(old)), `sigaction(${sig})`);
    if (old[0] !== SIG_IGN) continue;
    const dfl = new BigUint64Array(SIGACTION_SIZE / 8); // handler SIG_DFL, empty mask, no flags
    dfl[0] = SIG_DFL;
    check(s.sigaction(sig, ptr(dfl), null), `sigaction(${sig}, SIG_DFL)`);
    reset.push(sig);
  }
  return reset;
}

/** Unblocks every signal in the calling thread (the mask is inherited across execve). */
export function unblockAllSignals(): void {
  const s = sym();
  const empty = new Uint8Array(128);
  s.sigemptyset(ptr(empty));
  // pthread_sigmask returns the error number instead of setting errno.
  const err = s.pthread_sigmask(SIG_SETMASK, ptr(empty), null);
  if (err !== 0) throw new SysError("pthread_sigmask", err);
}
