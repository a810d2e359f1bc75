// Kubernetes pods through containerd's CRI plugin on the real kernel (QEMU),
// with the rootfs's containerd config as shipped: nothing turned off (this
// node has every cgroup controller, CAP_SYS_RESOURCE, and / on the initramfs,
// where minos's drop-in gives runc NoPivotRoot). The kubelet is played where
// Talos runs the kubelet: minos's kubelet service pulls a stand-in image
// (test/fixtures/cri/images.ts kubeletStandIn) from a Distribution registry on
// the host's loopback (the guest's 10.0.2.100:5000 through QEMU's guestfwd) and
// runs it with Talos's mounts, host network and PID namespaces; its
// /usr/local/bin/kubelet runs test/fixtures/cri/play-kubelet.ts (bundled) with
// the minos binary as the Bun runtime (BUN_BE_BUN=1; the node's /sbin/init and
// glibc come in as machine.kubelet.extraMounts). The pods' images are imported
// into k8s.io through the machine API's ImageImport on the node's socket.
// One boot checks: the drop-in's adjustment, a host-network pod (output in
// the CRI log under /var/log/pods, RUNNING -> EXITED 7, the pod's cgroup
// under the kubelet's cgroup_parent with cpu.weight from CRI's cpu shares and
// oom score -998) and a pod on a CNI bridge network (an address from
// host-local, the gateway answers, the address released on removal).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { bootVm, ensureImage, type Vm } from "../../scripts/vm.ts";
import { CRI_CONFIG_DROPIN } from "../../src/containerd/cri-config.ts";
import { buildCriArchive, kubeletStandIn } from "../fixtures/cri/images.ts";
import { pushImage } from "../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../fixtures/registry/registry-server.ts";

const FIXTURES = resolve(import.meta.dir, "../fixtures/cri");
const RELAY = resolve(import.meta.dir, "../fixtures/vm/relay.ts");
const GUEST_REGISTRY = "10.0.2.100:5000";
const KUBELET_IMAGE = `${GUEST_REGISTRY}/test/kubelet:cri`;
const BOOT_MS = 240_000;

let tmp = "";
let bundle = "";
let archive: Uint8Array;
let reg: RunningRegistry;
const vms: Vm[] = [];

beforeAll(async () => {
  ensureImage();
  tmp = mkdtempSync(join(tmpdir(), `minos-vm-cri-${process.pid}-`));
  archive = new Uint8Array(readFileSync(buildCriArchive(join(tmp, "images.tar"))));
  const built = await Bun.build({ entrypoints: [join(FIXTURES, "play-kubelet.ts")], target: "bun", minify: false });
  if (!built.success) throw new Error(`bundling play-kubelet.ts failed: ${built.logs.join("\n")}`);
  bundle = await built.outputs[0]!.text();
  reg = await startRegistry();
  await pushImage({ url: reg.url }, "test/kubelet", kubeletStandIn(tmp, "/test/cri/play-kubelet.js", "/test/cri/images.tar"), "cri");
}, 120_000);

afterAll(async () => {
  for (const vm of vms) await vm.kill();
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** The report lines the on-node kubelet printed: key -> parsed JSON. */
function reportOf(vm: Vm): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const l of vm.lines) {
    const m = /CRI-REPORT (\S+) (.*)$/.exec(l.text);
    if (m) out[m[1]!] = JSON.parse(m[2]!);
  }
  return out;
}

test(
  "pods through the CRI on the real kernel: host network and a CNI bridge, CRI logs, RUNNING -> EXITED, cgroups and oom score as CRI sets them",
  async () => {
    const bind = (source: string, destination = source, options = ["rbind", "ro"]) => ({ source, destination, type: "bind", options });
    const config = {
      version: "v1alpha1",
      machine: {
        registries: { mirrors: { [GUEST_REGISTRY]: { endpoints: [`http://${GUEST_REGISTRY}`] } } },
        kubelet: {
          image: KUBELET_IMAGE,
          extraMounts: [
            bind("/sbin/init", "/minos/bun", ["bind", "ro"]),
            bind("/usr/lib"),
            bind("/usr/lib64"),
            bind("/test/cri"),
            // The machine API's socket (ImageImport) and host-local's leases (the address released).
            bind("/system/run/machined", "/system/run/machined", ["rbind", "rw"]),
            bind("/var/lib/cni", "/var/lib/cni", ["rbind", "rw"]),
          ],
        },
      },
      // The kubelet runs once there is a cluster to join.
      cluster: { controlPlane: { endpoint: "https://127.0.0.1:6443" } },
    };
    const vm = await bootVm({
      files: {
        "system/state/config.yaml": stringify(config),
        "test/cri/play-kubelet.js": bundle,
        // client.ts reads the .proto beside itself (import.meta.dir of the bundle).
        "test/cri/api.proto": readFileSync(join(FIXTURES, "api.proto"), "utf8"),
        "test/cri/images.tar": archive,
      },
      memoryMb: 1536,
      guestfwd: [{ guest: GUEST_REGISTRY, cmd: `${process.execPath} ${RELAY} 127.0.0.1 ${reg.port}` }],
    });
    vms.push(vm);
    const dropin = await vm.waitForLine(new RegExp(`${CRI_CONFIG_DROPIN.replaceAll(".", "\\.")}: (.*)$`), BOOT_MS);
    expect(dropin.text).toContain("NoPivotRoot: / is the initramfs");
    expect(dropin.text).not.toContain("disable_cgroup");
    expect(dropin.text).not.toContain("restrict_oom_score_adj");
    const end = await vm.waitForLine(/(CRI-DONE|CRI-FAILED.*)$/, BOOT_MS);
    const r = reportOf(vm);
    if (!end.text.endsWith("CRI-DONE"))
      throw new Error(
        `${end.text}\n${vm.lines
          .slice(-60)
          .map((l) => l.text)
          .join("\n")}`,
      );

    expect(r.imported).toEqual(["registry.k8s.io/pause:3.8", "minos.test/busybox:v1"]);
    expect((r.version as { runtime_api_version: string }).runtime_api_version).toBe("v1");
    expect(r.conditions).toEqual({ RuntimeReady: true, NetworkReady: false });

    // The host-network pod.
    expect((r["hostNetwork.states"] as string[]).slice(-2)).toEqual(["CONTAINER_RUNNING", "CONTAINER_EXITED"]);
    const final = r["hostNetwork.final"] as { exit_code: number; reason: string; log_path: string };
    expect(final.exit_code).toBe(7);
    expect(final.reason).toBe("Error");
    const hostLog = r["hostNetwork.logLines"] as string[];
    expect(hostLog[0]).toMatch(/^\S+ stdout F CRI-HELLO from a pod$/);
    expect(hostLog.find((l) => l.includes(" NETNS "))).toEndWith(`NETNS ${r["node-netns"]}`);
    expect(r["hostNetwork.podNetworkMode"]).toBe("NODE");
    expect(r["hostNetwork.listedAfterRemove"]).toBe(false);
    // Real cgroups: under the kubelet's cgroup_parent, CRI's sandbox cpu shares 2 = cpu.weight 1, oom score -998.
    const sandboxId = r["hostNetwork.sandboxId"] as string;
    expect(r["hostNetwork.sandboxCgroup"]).toBe(`/kubepods/besteffort/podcri-test-hostnet/${sandboxId}`);
    expect(r["hostNetwork.containerCgroup"]).toBe(`/kubepods/besteffort/podcri-test-hostnet/${r["hostNetwork.containerId"]}`);
    expect(r["hostNetwork.sandboxCpuWeight"]).toBe("1");
    expect(r["hostNetwork.sandboxOomScore"]).toBe("-998");

    // The CNI bridge pod.
    expect(r["cni.networkReady"]).toBe(true);
    expect(r["cni.podNetworkMode"]).toBe("POD");
    const ip = r["cni.podIp"] as string;
    expect(ip).toMatch(/^10\.88\.\d+\.\d+$/);
    const cniLog = r["cni.logLines"] as string[];
    expect(cniLog.find((l) => l.includes(" NETNS "))).not.toEndWith(`NETNS ${r["node-netns"]}`);
    expect(cniLog.some((l) => l.includes(`inet ${ip}/16`))).toBe(true);
    expect(cniLog.some((l) => l.endsWith("stdout F PING-GATEWAY-OK"))).toBe(true);
    expect((r["cni.final"] as { exit_code: number }).exit_code).toBe(0);
    expect(r["cni.addressReleased"]).toBe(true);
  },
  BOOT_MS + 120_000,
);
