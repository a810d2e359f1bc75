// The system clock: clock_gettime(2), clock_settime(2) and adjtimex(2).
//
// SAFETY: clock_settime and adjtimex with a non-zero `modes` change the clock of
// the whole machine — clocks are not namespaced, so in the sandbox they change
// the HOST's clock. Only a node booted on its own kernel (VM or metal) may call
// stepClock / slewClock / setRealtime; tests call only the read-only functions
// (readRealtimeNs, readMonotonicNs, readClockState).
import { check, libc, ptr, T } from "./ffi.ts";

const sym = libc({
  clock_gettime: { args: [T.i32, T.ptr], returns: T.i32 },
  clock_settime: { args: [T.i32, T.ptr], returns: T.i32 },
  adjtimex: { args: [T.ptr], returns: T.i32 },
});

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_BOOTTIME = 7;

// adjtimex modes (linux/timex.h).
export const ADJ_OFFSET = 0x0001;
export const ADJ_FREQUENCY = 0x0002;
export const ADJ_MAXERROR = 0x0004;
export const ADJ_ESTERROR = 0x0008;
export const ADJ_STATUS = 0x0010;
export const ADJ_TIMECONST = 0x0020;
export const ADJ_SETOFFSET = 0x0100;
export const ADJ_NANO = 0x2000;
// status bits.
export const STA_PLL = 0x0001;
export const STA_UNSYNC = 0x0040;
export const STA_NANO = 0x2000;

/** adjtimex's return value: the kernel's clock state. */
export const TIME_STATES = ["TIME_OK", "TIME_INS", "TIME_DEL", "TIME_OOP", "TIME_WAIT", "TIME_ERROR"] as const;
export type TimeState = (typeof TIME_STATES)[number];

const NS = 1_000_000_000n;

// struct timex on x86-64 (208 bytes): the offsets of the fields we use. `long`
// is 8 bytes; each `int` before a `long` is padded to 8.
const TIMEX_SIZE = 208;
const TX = {
  modes: 0, // unsigned int
  offset: 8,
  freq: 16,
  maxerror: 24,
  esterror: 32,
  status: 40, // int
  constant: 48,
  precision: 56,
  tolerance: 64,
  timeSec: 72, // struct timeval time: tv_sec
  timeUsec: 80, //                      tv_usec (nanoseconds under ADJ_NANO)
  tick: 88,
} as const;

function readClock(clock: number, name: string): bigint {
  const ts = new BigInt64Array(2); // struct timespec { time_t tv_sec; long tv_nsec; }
  check(sym().clock_gettime(clock, ptr(ts)), `clock_gettime(${name})`);
  return ts[0]! * NS + ts[1]!;
}

/** CLOCK_REALTIME in nanoseconds since the Unix epoch (ns resolution, unlike Date.now()). */
export function readRealtimeNs(): bigint {
  return readClock(CLOCK_REALTIME, "CLOCK_REALTIME");
}

/** CLOCK_MONOTONIC in nanoseconds: never stepped, for intervals. */
export function readMonotonicNs(): bigint {
  return readClock(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
}

/** A (sec, nsec) pair with 0 <= nsec < 1e9 — the kernel rejects a negative nsec. */
function split(ns: bigint): [bigint, bigint] {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  return [sec, nsec];
}

export interface ClockState {
  state: TimeState;
  /** STA_* bits. */
  status: number;
  /** The kernel's estimate of its maximum / estimated error, microseconds. */
  maxErrorUs: number;
  estErrorUs: number;
  /** The remaining PLL offset being slewed (ns when STA_NANO, else µs, as reported). */
  offset: number;
  /** Frequency correction, ppm with a 16-bit fraction (the kernel's unit). */
  freq: number;
  /** True when the kernel considers the clock synchronised (STA_UNSYNC clear). */
  synced: boolean;
}

/** A zeroed struct timex and a view to fill it. */
function timex(): DataView {
  return new DataView(new ArrayBuffer(TIMEX_SIZE));
}

function callAdjtimex(tx: DataView, what: string): TimeState {
  const bytes = new Uint8Array(tx.buffer);
  const ret = check(sym().adjtimex(ptr(bytes)), what);
  return TIME_STATES[ret] ?? "TIME_ERROR";
}

function stateOf(tx: DataView, state: TimeState): ClockState {
  const status = tx.getInt32(TX.status, true);
  return {
    state,
    status,
    maxErrorUs: Number(tx.getBigInt64(TX.maxerror, true)),
    estErrorUs: Number(tx.getBigInt64(TX.esterror, true)),
    offset: Number(tx.getBigInt64(TX.offset, true)),
    freq: Number(tx.getBigInt64(TX.freq, true)),
    synced: (status & STA_UNSYNC) === 0,
  };
}

/** adjtimex with modes = 0: reads the kernel's clock state and changes nothing (safe anywhere). */
export function readClockState(): ClockState {
  const tx = timex();
  return stateOf(tx, callAdjtimex(tx, "adjtimex(read)"));
}

/**
 * Steps CLOCK_REALTIME by `offsetNs` (positive = forward) with ADJ_SETOFFSET:
 * the kernel adds the offset to the clock as it is at the moment of the call,
 * so the time between our measurement and the syscall adds no error (a
 * clock_settime of "now + offset" would lose whatever ran in between). Linux
 * >= 2.6.39. MODIFIES THE MACHINE'S CLOCK.
 */
export function stepClock(offsetNs: bigint): TimeState {
  const tx = timex();
  const [sec, nsec] = split(offsetNs);
  tx.setUint32(TX.modes, ADJ_SETOFFSET | ADJ_NANO, true);
  tx.setBigInt64(TX.timeSec, sec, true);
  tx.setBigInt64(TX.timeUsec, nsec, true);
  return callAdjtimex(tx, `adjtimex(ADJ_SETOFFSET ${offsetNs}ns)`);
}

/**
 * Hands `offsetNs` to the kernel's phase-locked loop (ADJ_OFFSET with STA_PLL):
 * the kernel slews the clock towards it (and learns the frequency error) rather
 * than jumping, so time never runs backwards. The kernel clamps the phase to
 * ±0.5 s (MAXPHASE): larger offsets must be stepped. Clearing STA_UNSYNC tells
 * the kernel the clock is disciplined (it then keeps the RTC in sync every 11
 * minutes). `maxErrorUs`/`estErrorUs` are our error bounds, as ntpd reports them.
 * MODIFIES THE MACHINE'S CLOCK.
 */
export function slewClock(offsetNs: bigint, maxErrorUs: number, estErrorUs: number, timeConstant = 2): TimeState {
  const tx = timex();
  tx.setUint32(TX.modes, ADJ_OFFSET | ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_TIMECONST, true);
  tx.setBigInt64(TX.offset, offsetNs, true);
  tx.setInt32(TX.status, STA_PLL, true);
  tx.setBigInt64(TX.maxerror, BigInt(Math.max(0, Math.round(maxErrorUs))), true);
  tx.setBigInt64(TX.esterror, BigInt(Math.max(0, Math.round(estErrorUs))), true);
  tx.setBigInt64(TX.constant, BigInt(timeConstant), true);
  return callAdjtimex(tx, `adjtimex(ADJ_OFFSET ${offsetNs}ns)`);
}

/**
 * clock_settime(CLOCK_REALTIME, ns): sets the clock to an absolute time. The
 * fallback for kernels without ADJ_SETOFFSET. MODIFIES THE MACHINE'S CLOCK.
 */
export function setRealtime(ns: bigint): void {
  const [sec, nsec] = split(ns);
  const ts = new BigInt64Array([sec, nsec]);
  check(sym().clock_settime(CLOCK_REALTIME, ptr(ts)), "clock_settime(CLOCK_REALTIME)");
}
