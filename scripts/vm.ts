// A QEMU launcher for the node image, shared by `bun run boot`, the VM tests
// and benchmarks:
//
//   const vm = await bootVm({ append: "minos.config=/bad.yaml" });
//   await vm.waitForLine(/all services healthy/, 60_000);
//   await vm.powerButton();            // ACPI power button over QMP
//   expect(await vm.exited).toBe(0);   // guest poweroff => QEMU exits 0
//
// The machine: qemu-system-x86_64 -cpu max (the Bun runtime needs SSE4.2/AVX),
// KVM when it really works here (kvmWorks probes it; else TCG), serial console on ttyS0, -no-reboot (a
// guest reboot or kernel panic ends QEMU too), user networking with
// restrict=on: the guest reaches nothing, and the host reaches only the node's
// API port through one forward from 127.0.0.1:<hostPort>.
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  writeSync,
  rmSync,
  statSync,
  mkdirSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer } from "node:net";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { Tree, writeCpio } from "../build/cpio.ts";
import { IMAGE_ZSTD, VMLINUZ, buildImage } from "../build/image.ts";

export const API_PORT = 50000;
/**
 * console on the serial port; PID 1 is /sbin/init; a panic reboots at once, which
 * -no-reboot turns into QEMU's exit; init's /dev/kmsg lines not rate-limited (as Talos).
 */
export const BASE_APPEND = "console=ttyS0 rdinit=/sbin/init panic=-1 printk.devkmsg=on";
/**
 * The node's address on QEMU's user network (10.0.2.0/24, gateway 10.0.2.2,
 * the host forward's target 10.0.2.15), in the kernel's ip= form that init
 * applies when the machine config names no interfaces.
 */
export const NET_APPEND = "ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off";

export interface VmOptions {
  kernel?: string;
  initrd?: string;
  /** Appended to BASE_APPEND and NET_APPEND (e.g. "minos.config=/bad.yaml", or "-- --check-runtime" for init's argv). */
  append?: string;
  /** The whole kernel cmdline instead of BASE_APPEND + NET_APPEND + append (a stock boot: "console=ttyS0"). */
  cmdline?: string;
  /** Raw disk images attached as virtio disks (vda, vdb, … in order). */
  disks?: string[];
  /**
   * Guest connections to addr:port run `cmd` on the host with the connection as its stdin and
   * stdout (QEMU's guestfwd …-cmd:, one process per connection; no commas in cmd).
   */
  guestfwds?: { addr: string; port: number; cmd: string }[];
  /** Host port forwarded to the guest's API port; 0 = pick a free one (default); bun run boot uses 50000. */
  hostPort?: number;
  memoryMb?: number;
  cpus?: number;
  /** Extra files (path in the image -> content), appended to the initrd as a second cpio archive. */
  files?: Record<string, VmFile>;
  /** Serial console on this terminal (stdin too: Ctrl-A X quits QEMU); lines are then not captured. */
  interactive?: boolean;
  /** Called with each serial line as it arrives. */
  onLine?: (line: string) => void;
  /** "auto" (default): KVM when it works here (kvmWorks), else TCG. */
  accel?: "auto" | "kvm" | "tcg";
  /** false: no NET_APPEND (no ip=): the node's default DHCP gets 10.0.2.15 from QEMU's built-in server. */
  staticIp?: boolean;
  /** QEMU's -rtc base= (the guest's clock at power-on, e.g. "2020-01-01"). */
  rtcBase?: string;
  /**
   * false: QEMU user networking without restrict=on, so the guest can reach 10.0.2.2 (the host's
   * loopback) over UDP — the time test's NTP responder, which guestfwd (TCP only) cannot carry.
   * The test must configure the guest to address nothing else.
   */
  restrict?: boolean;
  /** Guest TCP address (10.0.2.x:port) -> a command QEMU runs per connection with the connection on its stdio (guestfwd cmd:). */
  guestfwd?: { guest: string; cmd: string }[];
}

/** File content (mode 0644), or content with a mode (0755 for a program). */
export type VmFile = string | Uint8Array | { data: string | Uint8Array; mode: number };

export interface LogLine {
  /** ms since QEMU was started */
  t: number;
  text: string;
}

export interface Vm {
  argv: string[];
  /** QEMU's pid (a test that simulates a power cut SIGKILLs it). */
  pid: number;
  hostPort: number;
  kvm: boolean;
  /** Serial console lines so far (CR stripped). */
  lines: LogLine[];
  /** Resolves with the first line (already seen or yet to come) matching `re`; rejects on timeout or QEMU exit. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<LogLine>;
  /** Sends a QMP command; returns its "return" value. */
  qmp(command: string, args?: Record<string, unknown>): Promise<unknown>;
  /** Presses the ACPI power button (QMP system_powerdown). */
  powerButton(): Promise<void>;
  /** QEMU's exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The whole serial log as text. */
  log(): string;
  /** Kills QEMU (SIGKILL, by pid) if it still runs and removes temporary files. */
  kill(): Promise<void>;
}

export function kvmAvailable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

let kvmProbe: Promise<boolean> | undefined;

/**
 * Whether KVM really boots a Linux kernel here: /dev/kvm can exist and still
 * fail (nested virtualization: "-cpu max" dies on an MSR, or the guest hangs
 * before its first printk). Boots the kernel alone with earlyprintk and waits
 * for its banner; once per process. MINOS_VM_ACCEL=kvm|tcg skips the probe.
 */
export function kvmWorks(kernel = VMLINUZ): Promise<boolean> {
  const forced = process.env.MINOS_VM_ACCEL;
  if (forced === "kvm" || forced === "tcg") return Promise.resolve(forced === "kvm");
  if (!kvmAvailable()) return Promise.resolve(false);
  // Cached per host kernel in the git-ignored .cache: the probe costs seconds when KVM hangs.
  const cacheFile = ".cache/kvm-probe";
  const key = `${release()} ${statSync("/dev/kvm").rdev}`;
  kvmProbe ??= (async () => {
    if (existsSync(cacheFile)) {
      const [k, v] = readFileSync(cacheFile, "utf8").trim().split("\t");
      if (k === key) return v === "ok";
    }
    const p = Bun.spawn(
      [
        "qemu-system-x86_64",
        "-accel",
        "kvm",
        "-cpu",
        "max",
        "-m",
        "256",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-no-reboot",
        "-kernel",
        kernel,
        "-append",
        "console=ttyS0 earlyprintk=ttyS0 panic=-1",
      ],
      { stdin: "ignore", stdout: "pipe", stderr: "ignore" },
    );
    let text = "";
    const seen = (async () => {
      for await (const c of p.stdout) {
        text += new TextDecoder().decode(c);
        if (/Linux version/.test(text)) return true;
      }
      return false;
    })();
    const ok = await Promise.race([seen, Bun.sleep(6000).then(() => false)]);
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {}
    await p.exited;
    mkdirSync(".cache", { recursive: true });
    writeFileSync(cacheFile, `${key}\t${ok ? "ok" : "hangs"}\n`);
    return ok;
  })();
  return kvmProbe;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Writes `base` followed by a 4-byte-aligned uncompressed cpio of `files`: the kernel unpacks both. */
export function overlayInitrd(base: string, files: Record<string, VmFile>, out: string): void {
  copyFileSync(base, out);
  const size = statSync(out).size;
  const pad = (4 - (size % 4)) % 4;
  const tree = new Tree();
  for (const [p, f] of Object.entries(files)) {
    const { data, mode } = typeof f === "string" || f instanceof Uint8Array ? { data: f, mode: 0o644 } : f;
    tree.set(p, { kind: "file", mode, mtime: 0, data });
  }
  const extra = `${out}.extra`;
  writeCpio(tree, extra);
  const fd = openSync(out, "a");
  try {
    if (pad) writeSync(fd, new Uint8Array(pad));
    writeSync(fd, readFileSync(extra));
  } finally {
    closeSync(fd);
    rmSync(extra, { force: true });
  }
}

export async function bootVm(opts: VmOptions = {}): Promise<Vm> {
  const kernel = opts.kernel ?? VMLINUZ;
  let initrd = opts.initrd ?? IMAGE_ZSTD;
  for (const f of [kernel, initrd]) if (!existsSync(f)) throw new Error(`vm: ${f} missing: run \`bun run build && bun run image\``);
  const dir = mkdtempSync(join(tmpdir(), "minos-vm-"));
  if (opts.files && Object.keys(opts.files).length) {
    const combined = join(dir, "initrd");
    overlayInitrd(initrd, opts.files, combined);
    initrd = combined;
  }
  const hostPort = opts.hostPort || (await freePort());
  const accel = opts.accel ?? "auto";
  const kvm = accel === "auto" ? await kvmWorks(kernel) : accel === "kvm";
  const qmpSock = join(dir, "qmp.sock");
  const append = opts.cmdline ?? [BASE_APPEND, opts.staticIp === false ? "" : NET_APPEND, opts.append ?? ""].filter(Boolean).join(" ").trim();
  const argv = [
    "qemu-system-x86_64",
    "-cpu",
    "max",
    "-accel",
    kvm ? "kvm" : "tcg",
    "-smp",
    String(opts.cpus ?? 2),
    "-m",
    String(opts.memoryMb ?? 2048),
    "-nographic",
    "-no-reboot",
    "-kernel",
    kernel,
    "-initrd",
    initrd,
    "-append",
    append,
    "-netdev",
    `user,id=n0,restrict=${opts.restrict === false ? "off" : "on"},hostfwd=tcp:127.0.0.1:${hostPort}-:${API_PORT}${(opts.guestfwds ?? []).map((g) => `,guestfwd=tcp:${g.addr}:${g.port}-cmd:${g.cmd}`).join("")}${(opts.guestfwd ?? []).map((g) => `,guestfwd=tcp:${g.guest}-cmd:${g.cmd}`).join("")}`,
    "-device",
    "virtio-net-pci,netdev=n0",
    "-device",
    "virtio-rng-pci",
    "-qmp",
    `unix:${qmpSock},server=on,wait=off`,
    ...(opts.rtcBase ? ["-rtc", `base=${opts.rtcBase}`] : []),
    ...(opts.disks ?? []).flatMap((d, i) => ["-drive", `file=${d},format=raw,if=virtio,cache=unsafe,id=disk${i}`]),
  ];
  const t0 = performance.now();
  const proc = Bun.spawn(argv, {
    stdin: opts.interactive ? "inherit" : "pipe",
    stdout: opts.interactive ? "inherit" : "pipe",
    stderr: opts.interactive ? "inherit" : "pipe",
  });
  const lines: LogLine[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (l: LogLine) => void }>();
  let stderrText = "";
  const push = (text: string) => {
    const l = { t: performance.now() - t0, text };
    lines.push(l);
    opts.onLine?.(text);
    for (const w of waiters)
      if (w.re.test(text)) {
        waiters.delete(w);
        w.resolve(l);
      }
  };
  const pump = async (stream: ReadableStream<Uint8Array>, onText: (s: string) => void) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) onText(dec.decode(chunk, { stream: true }));
  };
  let partial = "";
  const readers: Promise<void>[] = [];
  if (!opts.interactive) {
    readers.push(
      pump(proc.stdout as ReadableStream<Uint8Array>, (s) => {
        const parts = (partial + s).split("\n");
        partial = parts.pop() ?? "";
        for (const p of parts) push(p.replace(/\r/g, "").replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ""));
      }),
    );
    readers.push(pump(proc.stderr as ReadableStream<Uint8Array>, (s) => void (stderrText += s)));
  }
  const exited = proc.exited.then(async (code) => {
    await Promise.allSettled(readers);
    if (partial) push(partial.replace(/\r/g, ""));
    partial = "";
    return proc.signalCode ? null : code;
  });
  let done = false;
  exited.then(() => (done = true));
  const log = () => lines.map((l) => l.text).join("\n") + (stderrText ? `\n[qemu stderr] ${stderrText}` : "");
  const tail = () =>
    lines
      .slice(-40)
      .map((l) => l.text)
      .join("\n") + (stderrText ? `\n[qemu stderr] ${stderrText.trim()}` : "");

  const waitForLine = (re: RegExp, timeoutMs: number): Promise<LogLine> => {
    const seen = lines.find((l) => re.test(l.text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        re,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`vm: no line matching ${re} within ${timeoutMs} ms; last lines:\n${tail()}`));
      }, timeoutMs);
      waiters.add(w);
      exited.then((code) => {
        if (!waiters.has(w)) return;
        waiters.delete(w);
        clearTimeout(timer);
        reject(new Error(`vm: QEMU exited (${code}) before a line matching ${re}; last lines:\n${tail()}`));
      });
    });
  };

  const qmp = async (command: string, args?: Record<string, unknown>): Promise<unknown> => {
    // QMP: greeting, qmp_capabilities, then the command; events may interleave.
    for (let i = 0; i < 50 && !existsSync(qmpSock); i++) await Bun.sleep(20);
    return new Promise((resolve, reject) => {
      const sock = createConnection(qmpSock);
      let buf = "";
      let stage = 0;
      const fail = (e: Error) => {
        sock.destroy();
        reject(e);
      };
      sock.setTimeout(5000, () => fail(new Error(`vm: QMP ${command}: timeout`)));
      sock.on("error", fail);
      sock.on("data", (d) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (msg.event) continue;
          if (msg.error) return fail(new Error(`vm: QMP ${command}: ${msg.error.desc}`));
          if (stage === 0 && msg.QMP) {
            stage = 1;
            sock.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
          } else if (stage === 1 && "return" in msg) {
            stage = 2;
            sock.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }) + "\n");
          } else if (stage === 2 && "return" in msg) {
            sock.end();
            resolve(msg.return);
          }
        }
      });
    });
  };

  const kill = async () => {
    if (!done) {
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {}
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  return {
    argv,
    pid: proc.pid,
    hostPort,
    kvm,
    lines,
    waitForLine,
    qmp,
    powerButton: async () => void (await qmp("system_powerdown")),
    exited,
    log,
    kill,
  };
}

/**
 * Packs the image unless dist/initramfs.cpio.zst and dist/vmlinuz are newer
 * than dist/rootfs/sbin/init (tests call this: `npm test` builds the rootfs, not the image).
 */
export function ensureImage(): void {
  const mtime = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : 0);
  const init = mtime("dist/rootfs/sbin/init");
  if (!init) throw new Error("vm: dist/rootfs/sbin/init missing: run `bun run build` first");
  if (mtime(IMAGE_ZSTD) > init && mtime(VMLINUZ) > 0) return;
  const st = buildImage();
  console.error(`vm: packed ${st.out} (${(st.outBytes / 1048576).toFixed(1)} MiB) in ${((st.packMs + st.compressMs) / 1000).toFixed(1)} s`);
}

/** "[    1.234567] text" -> seconds since the kernel started, from printk's timestamp. */
export function kernelTime(line: string): number | undefined {
  const m = /^\[\s*(\d+\.\d+)\]/.exec(line);
  return m ? Number(m[1]) : undefined;
}
