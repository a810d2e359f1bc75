// Reading a service's stdout/stderr pipe into lines, with backpressure. PID 1
// takes a service's output only as fast as it can afford: every pipe's lines
// (with whatever follows them: the ring, the console, Logs streams, log
// shipping) share one duty cycle, and a reader that has used it up stops
// reading for a while. Bun's pipe stream is pull-based: while nobody calls
// read(), nothing is read, the kernel's pipe buffer (64 KiB) fills, and the
// service blocks in its own write(2). So PID 1's CPU and memory stay bounded
// whatever a service writes, and a flood only slows the flooding service.
import { DutyCycle } from "../../lib/duty.ts";
import { LineSplitter } from "../../lib/lines.ts";
import { sleep } from "../../lib/timers.ts";
import { close } from "../../sys/spawn.ts";

/**
 * All services' output together may take this share of PID 1's time (measured
 * in the reader, followers included); the rest of the loop (the API, the
 * reaper, health checks) is never starved by a chatty service.
 */
export const OUTPUT_SHARE = 0.1;
/** Work that may run back to back before the share applies, in ms. */
export const OUTPUT_BURST_MS = 20;
/** The longest a reader keeps the event loop before it yields, in ms. */
export const OUTPUT_SLICE_MS = 5;
/**
 * What reading a byte costs besides the measured line work (Bun's read, the
 * chunk's buffer, its garbage), charged rather than measured: 1 ms per 64 KiB,
 * so a flood of long lines is bounded too (at OUTPUT_SHARE: ~6 MiB/s).
 */
export const OUTPUT_MS_PER_BYTE = 1 / 65536;

/**
 * Lines between two looks at the clock: a look costs ~80 ns here (a line
 * ~250 ns), but one line may cost a blocking console write, so not many.
 */
const LINES_PER_CLOCK_CHECK = 8;

/** The duty cycle every service's output reader shares. */
export const serviceOutputBudget = new DutyCycle(OUTPUT_SHARE, OUTPUT_BURST_MS);

/**
 * Splits a pipe's bytes into lines (long lines cut, see LineSplitter; a last
 * unterminated line is kept), calls onLine for each, then closes the fd; ends
 * by itself at EOF and never throws. Bun.file(fd).stream() reads a pipe
 * through the event loop; fs.createReadStream would park one thread-pool
 * thread in a blocking read(2) per service, and with more services than pool
 * threads the output of the others stalls (measured: 10 pipes, 6 delivered
 * seconds late).
 */
export async function readOutput(fd: number, onLine: (line: string) => void, budget: DutyCycle = serviceOutputBudget): Promise<void> {
  const lines = new LineSplitter();
  let reader: ReturnType<typeof pipeReader> | undefined;
  try {
    const r = (reader = pipeReader(fd));
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      lines.push(value);
      budget.spend(value.length * OUTPUT_MS_PER_BYTE);
      let start = performance.now();
      let n = 0;
      for (let line = lines.next(); line !== undefined; line = lines.next()) {
        onLine(line);
        if (++n % LINES_PER_CLOCK_CHECK === 0 && performance.now() - start >= OUTPUT_SLICE_MS) {
          budget.spend(performance.now() - start);
          await pause(budget);
          start = performance.now();
        }
      }
      budget.spend(performance.now() - start);
      await pause(budget);
    }
  } catch {
    // a read error ends the log, never the service
  } finally {
    try {
      const last = lines.end();
      if (last !== undefined) onLine(last);
    } catch {}
    try {
      reader?.releaseLock();
    } catch {}
    try {
      close(fd); // Bun's stream leaves the fd open
    } catch {}
  }
}

function pipeReader(fd: number) {
  return Bun.file(fd).stream().getReader();
}

/** Yields to the event loop: at once when the budget allows, else for as long as it says. */
function pause(budget: DutyCycle): Promise<unknown> {
  const ms = budget.waitMs();
  return ms > 0 ? sleep(ms) : new Promise((r) => setImmediate(r));
}
