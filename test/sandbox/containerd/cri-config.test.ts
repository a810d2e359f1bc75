// containerd itself reads minos's CRI config the way cri-config.ts expects:
// `containerd config dump` of the rootfs's config.toml, with and without the
// drop-in init writes. The drop-in replaces the whole CRI table (containerd
// merges imports per plugin), so its values win and nothing of the table is
// lost. Needs a prior `bun run build` (dist/rootfs/bin/containerd).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CONTAINERD_CONFIG } from "../../../build/etc.ts";
import { CRI_CONFIG_IMPORTS, CRI_REGISTRY_HOSTS_DIR, CRI_SANDBOX_IMAGE, PLAIN_NODE, criDropin } from "../../../src/containerd/cri-config.ts";

const CONTAINERD = resolve(import.meta.dir, "../../../dist/rootfs/bin/containerd");
const dir = mkdtempSync(join(tmpdir(), `minos-cri-dump-${process.pid}-`));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** containerd's merged config for the rootfs's config.toml with its import glob pointed at `dropins`. */
function dump(dropins: string): string {
  if (!existsSync(CONTAINERD)) throw new Error(`${CONTAINERD} missing: run \`bun run build\` first`);
  const cfg = join(dir, "config.toml");
  writeFileSync(cfg, CONTAINERD_CONFIG.replace(CRI_CONFIG_IMPORTS, join(dropins, "*.toml")));
  const r = Bun.spawnSync([CONTAINERD, "--config", cfg, "config", "dump"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`containerd config dump: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const setting = (text: string, key: string) => new RegExp(`^\\s*${key} = (.*)$`, "m").exec(text)?.[1];

test("without the drop-in (the directory is empty or absent) containerd takes config.toml's CRI table", () => {
  const out = dump(join(dir, "absent"));
  expect(setting(out, "sandbox_image")).toBe(`"${CRI_SANDBOX_IMAGE}"`);
  expect(setting(out, "bin_dir")).toBe(`"/opt/cni/bin"`);
  expect(setting(out, "conf_dir")).toBe(`"/etc/cni/net.d"`);
  expect(setting(out, "disable_cgroup")).toBe("false");
  expect(setting(out, "NoPivotRoot")).toBe("false");
});

test("with the drop-in its settings win and the rest of the CRI table stays", () => {
  const d = join(dir, "conf.d");
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "cri.toml"), criDropin({ noPivotRoot: true, disableCgroup: true, restrictOomScoreAdj: true }));
  const out = dump(d);
  expect(setting(out, "disable_cgroup")).toBe("true");
  expect(setting(out, "restrict_oom_score_adj")).toBe("true");
  expect(setting(out, "NoPivotRoot")).toBe("true");
  expect(setting(out, "sandbox_image")).toBe(`"${CRI_SANDBOX_IMAGE}"`);
  expect(setting(out, "bin_dir")).toBe(`"/opt/cni/bin"`);
  expect(setting(out, "snapshotter")).toBe(`"overlayfs"`);
});

test("registry auth in the drop-in lands in the CRI table beside config_path", () => {
  const d = join(dir, "conf.d-auth");
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "cri.toml"), criDropin(PLAIN_NODE, { "registry.lan:5443": { username: "u", password: "p" } }));
  const out = dump(d);
  expect(setting(out, "config_path")).toBe(`"${CRI_REGISTRY_HOSTS_DIR}"`);
  expect(out).toMatch(
    /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\.configs\."registry\.lan:5443"\.auth\]\s+auth = ""\s+identitytoken = ""\s+password = "p"\s+username = "u"/,
  );
});
