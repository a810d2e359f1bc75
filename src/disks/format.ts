// Making and checking XFS filesystems with the rootfs's own mkfs.xfs and
// xfs_repair. The disk layer never spawns a process itself: init starts every
// child through its reaper, so the caller hands in a runner.

/** Runs argv[0] with argv[1..] and resolves with its exit code and its stdout+stderr. */
export type Runner = (argv: string[]) => Promise<{ code: number; output: string }>;

export const MKFS_XFS = "/sbin/mkfs.xfs";
export const XFS_REPAIR = "/sbin/xfs_repair";

/** mkfs.xfs refuses filesystems of 300 MiB or less unless told --unsupported (Talos passes it then too). */
const XFS_SUPPORTED_MIN = 300 * 2 ** 20;

function tail(output: string, lines = 6): string {
  return output.trim().split("\n").slice(-lines).join(" | ");
}

/** mkfs.xfs -f -n ftype=1 -L LABEL [--unsupported] DEV (ftype=1: overlayfs, hence containerd, needs it). */
export async function formatXfs(dev: string, label: string, size: number, run: Runner, mkfs = MKFS_XFS): Promise<void> {
  const argv = [mkfs, "-f", "-n", "ftype=1", "-L", label];
  if (size <= XFS_SUPPORTED_MIN) argv.push("--unsupported");
  argv.push(dev);
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit code ${r.code}: ${tail(r.output)}`);
}

export type RepairAction = "clean" | "repaired" | "dirty-log" | "failed";

export interface RepairResult {
  device: string;
  action: RepairAction;
  /** What happened, in a sentence for the log and the API. */
  words: string;
  /** Each xfs_repair run: argv, exit code, output. */
  runs: { argv: string[]; code: number; output: string }[];
}

export interface RepairOptions {
  xfsRepair?: string;
  /**
   * xfs_repair -L: zero a dirty log the kernel could not replay, losing the
   * metadata changes in it. Only when a mount (which replays the log) failed.
   */
  zeroLog?: boolean;
  /**
   * Mounts `dev` and unmounts it again: the kernel replays a dirty log on
   * mount. Given, repairXfs does the dirty-log dance itself (replay, then check
   * again) instead of answering "dirty-log". Injected because mounting belongs
   * to the caller (init's mount table, a mount namespace in tests).
   */
  replayLog?: (dev: string) => Promise<void>;
}

// xfs_repair's messages for a dirty log: with -n it warns and goes on, without
// -n it stops with exit code 2.
const DIRTY_LOG = /valuable metadata changes in a log/;
const MOUNTED = /contains a mounted filesystem|contains a mounted and writable filesystem/;

/**
 * Checks an unmounted XFS filesystem and repairs it when needed.
 *
 * `xfs_repair -n` first (exit 0: clean, 1: corruption found or an error). Only
 * then the real `xfs_repair -e` (exit 0: nothing needed fixing, 4: fixed
 * corruption, 1: a runtime error, 2: a dirty log). xfs_repair refuses a dirty
 * log, and the log holds metadata changes that are not yet in place, so the
 * answer "dirty-log" tells the caller to MOUNT the filesystem (the kernel
 * replays the log), UNMOUNT it, and call repair again — or the caller passes
 * `replayLog` and repairXfs does exactly that. Only if that mount fails is
 * `zeroLog` (xfs_repair -L) the last resort.
 */
export async function repairXfs(dev: string, run: Runner, opts: RepairOptions = {}): Promise<RepairResult> {
  const first = await repairOnce(dev, run, opts);
  if (first.action !== "dirty-log" || !opts.replayLog) return first;
  try {
    await opts.replayLog(dev);
  } catch (e) {
    return {
      ...first,
      action: "failed",
      words: `${dev}: the XFS log is dirty and mounting to replay it failed (${(e as Error).message}); only xfs_repair -L (zeroLog), which loses the log's changes, is left`,
    };
  }
  const second = await repairOnce(dev, run, { ...opts, replayLog: undefined });
  const runs = [...first.runs, ...second.runs];
  if (second.action === "dirty-log") return { ...second, runs, action: "failed", words: `${dev}: the log is still dirty after a mount and unmount` };
  const rest = second.words.startsWith(`${dev}: `) ? second.words.slice(dev.length + 2) : second.words;
  return { ...second, runs, words: `${dev}: the log was dirty; replayed it by mounting and unmounting, then ${rest}` };
}

async function repairOnce(dev: string, run: Runner, opts: RepairOptions): Promise<RepairResult> {
  const bin = opts.xfsRepair ?? XFS_REPAIR;
  const runs: RepairResult["runs"] = [];
  const step = async (argv: string[]) => {
    const r = await run(argv);
    runs.push({ argv, code: r.code, output: r.output });
    return r;
  };
  const done = (action: RepairAction, words: string): RepairResult => ({ device: dev, action, words, runs });

  if (!opts.zeroLog) {
    const check = await step([bin, "-n", dev]);
    if (MOUNTED.test(check.output)) return done("failed", `${dev} is mounted: xfs_repair works only on an unmounted filesystem`);
    if (check.code === 0 && !DIRTY_LOG.test(check.output)) return done("clean", `${dev}: xfs_repair -n found no corruption; nothing to do`);
    if (DIRTY_LOG.test(check.output))
      return done("dirty-log", `${dev}: the XFS log is dirty and xfs_repair refuses it; mount ${dev} to replay the log, unmount it, then repair again`);
    if (check.code !== 1) return done("failed", `${dev}: xfs_repair -n ended with exit code ${check.code}: ${tail(check.output, 3)}`);
  }

  const argv = opts.zeroLog ? [bin, "-e", "-L", dev] : [bin, "-e", dev];
  const fix = await step(argv);
  switch (fix.code) {
    case 4:
      return done(
        "repaired",
        `${dev}: xfs_repair found corruption and repaired it${opts.zeroLog ? " (the log was zeroed: its last metadata changes are lost)" : ""}`,
      );
    case 0:
      return done(
        opts.zeroLog ? "repaired" : "clean",
        opts.zeroLog
          ? `${dev}: the log was zeroed; xfs_repair found nothing else to fix`
          : `${dev}: xfs_repair -n reported problems but the repair found nothing to fix`,
      );
    case 2:
      return done("dirty-log", `${dev}: the XFS log is dirty and xfs_repair refuses it; mount ${dev} to replay the log, unmount it, then repair again`);
    default:
      return done("failed", `${dev}: xfs_repair could not repair the filesystem (exit code ${fix.code}): ${tail(fix.output, 3)}`);
  }
}
