// Kubernetes pods through containerd's CRI plugin on a sandbox node, the test
// playing the kubelet (test/fixtures/cri/play-kubelet.ts) over the node's own
// containerd socket: images pre-pulled into k8s.io by minos's ImageImport, a
// host-network pod and a pod on a CNI bridge network (the rootfs's
// /opt/cni/bin plugins, a conflist dropped into /etc/cni/net.d), each with a
// busybox container whose output lands in the CRI log under /var/log/pods and
// whose status goes RUNNING -> EXITED with its exit code. The host-network
// pod's image is fetched by the CRI's own PullImage from a Distribution
// registry inside the node's network namespace, through the mirror that
// machine.registries names (minos writes it into the CRI's hosts directory).
//
// This host lacks what the CRI plugin asks of every pod sandbox (cpu shares:
// no cpu controller in its cgroup v2 tree; oom score -998: no
// CAP_SYS_RESOURCE), so minos's drop-in turns those settings off here and says
// why in the log; test/vm/cri.test.ts runs the same flow on the real kernel,
// where nothing is turned off.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { CRI_CONFIG_DROPIN } from "../../../src/containerd/cri-config.ts";
import { buildCriArchive, busyboxImage, BUSYBOX_IMAGE, PAUSE_IMAGE } from "../../fixtures/cri/images.ts";
import { pushImage } from "../../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import type { Sandbox } from "../../../scripts/sandbox.ts";
import { CNI_GATEWAY, playKubelet, type KubeletReport } from "../../fixtures/cri/play-kubelet.ts";
import { withNode } from "../../helpers/node.ts";
import { registryInNode } from "../../helpers/container-image.ts";

const MIRROR_PORT = 17000 + (process.pid % 1000);
const MIRRORED = "mirror.invalid";
const PULLED = `${MIRRORED}/cri/busybox:v2`;

let tmp = "";
let archive = "";
let staging: RunningRegistry;
const procs: ReturnType<typeof Bun.spawn>[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), `minos-cri-${process.pid}-`));
  archive = buildCriArchive(join(tmp, "cri-images.tar"));
  // A host-side registry only to push into the storage the node-side registry serves.
  staging = await startRegistry();
  await pushImage({ url: staging.url }, "cri/busybox", busyboxImage(tmp), "v2");
}, 60_000);

afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  await staging?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A plain-HTTP registry inside the node's network namespace (its only link is lo), serving the staging storage. */
async function registryIn(sb: Sandbox, port: number): Promise<void> {
  procs.push(await registryInNode(sb, port, join(staging.dir, "data"), tmp));
}

describe("CRI on a sandbox node", () => {
  test("a host-network pod and a CNI bridge pod: sandbox + busybox container, CRI log under /var/log/pods, RUNNING then EXITED with the exit code", async () => {
    if (!Bun.which("tar")) throw new Error("needs tar");
    if (!Bun.which("nsenter")) throw new Error("needs nsenter (util-linux)");
    const config = stringify({
      version: "v1alpha1",
      machine: {
        registries: {
          mirrors: { [MIRRORED]: { endpoints: [`http://127.0.0.1:${MIRROR_PORT}`] } },
          // Auth goes into the CRI table beside config_path: the plugin must still load with it.
          config: { "auth.invalid": { auth: { username: "u", password: "p" } } },
        },
      },
    });
    await withNode({ config, containers: true }, async (sb) => {
      const line = await sb.waitForLine(new RegExp(`${CRI_CONFIG_DROPIN.replaceAll(".", "\\.")}: (.*)$`), 60_000);
      const initPid = await sb.initPid();
      const root = `/proc/${initPid}/root`;
      // What minos wrote is what this node needs, each with its reason.
      const controllers = readFileSync(`${root}/sys/fs/cgroup/cgroup.controllers`, "utf8").trim().split(/\s+/);
      const dropin = readFileSync(root + CRI_CONFIG_DROPIN, "utf8");
      expect(dropin).toContain(`sandbox_image = "${PAUSE_IMAGE}"`);
      expect(dropin).toContain(`bin_dir = "/opt/cni/bin"`);
      expect(dropin).toContain(`conf_dir = "/etc/cni/net.d"`);
      expect(dropin).toContain(`disable_cgroup = ${!controllers.includes("cpu")}`);
      expect(dropin).toContain(`registry.configs."auth.invalid".auth]\n    username = "u"\n    password = "p"`);
      if (!controllers.includes("cpu")) expect(line[1]).toContain("disable_cgroup: the cgroup hierarchy has no cpu controller");

      expect(readFileSync(`${root}/run/containerd/certs.d/${MIRRORED}/hosts.toml`, "utf8")).toBe(
        `[host."http://127.0.0.1:${MIRROR_PORT}"]\n  capabilities = ["pull", "resolve"]\n`,
      );
      await registryIn(sb, MIRROR_PORT);

      let report: KubeletReport | undefined;
      const log: string[] = [];
      try {
        report = await playKubelet({
          apiSocket: sb.socketPath,
          criSocket: `${root}/run/containerd/containerd.sock`,
          root,
          archive,
          cni: true,
          pull: PULLED,
          log: (l) => log.push(l),
        });
      } catch (e) {
        throw new Error(`${(e as Error).message}\nkubelet's log:\n${log.join("\n")}\nnode console tail:\n${sb.lines.slice(-30).join("\n")}`);
      }
      if (process.env.MINOS_TEST_ECHO) console.log(JSON.stringify(report, null, 1));
      expect(report.imported.sort()).toEqual([BUSYBOX_IMAGE, PAUSE_IMAGE].sort());
      expect(report.version.runtime_name).toBe("containerd");
      expect(report.version.runtime_api_version).toBe("v1");
      // No CNI config yet: the runtime is ready, the pod network is not.
      expect(report.conditions).toEqual({ RuntimeReady: true, NetworkReady: false });
      expect(report.images).toEqual({ [PAUSE_IMAGE]: true, [BUSYBOX_IMAGE]: true });

      // The CRI's own pull, through the mirror machine.registries names; the host-network pod runs that image.
      expect(report.pulled?.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
      // mirror.invalid has no address: only the mirror could have resolved it. The content is the imported
      // busybox image's (same layer, same config), so the CRI lists both names on one image.
      expect(report.pulled?.repoTags).toContain(PULLED);

      const host = report.hostNetwork;
      expect(host.states.slice(-2)).toEqual(["CONTAINER_RUNNING", "CONTAINER_EXITED"]);
      expect(host.final.exit_code).toBe(7);
      expect(host.final.reason).toBe("Error");
      // The container ran the pulled image: its ref is the repo digest the mirror served.
      expect(host.final.image_ref).toMatch(new RegExp(`^${MIRRORED}/cri/busybox@sha256:[0-9a-f]{64}$`));
      expect(host.final.log_path).toBe(`/var/log/pods/default_hostnet_cri-test-hostnet/main/0.log`);
      expect(host.listed).toEqual([[host.containerId, "CONTAINER_EXITED"]]);
      // The CRI log format: RFC3339Nano time, stream, F(ull line) or P(artial), text.
      expect(host.logLines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+ stdout F CRI-HELLO from a pod$/);
      expect(host.logLines.find((l) => l.includes(" NETNS "))).toEndWith(`NETNS ${readlinkSync(`/proc/${initPid}/ns/net`)}`);
      expect(host.podState).toBe("SANDBOX_READY");
      expect(host.podNetworkMode).toBe("NODE");
      expect(host.podIp).toBe("");
      expect(host.listedAfterRemove).toBe(false);
      // disable_cgroup here: runc still gives each a cgroup named by its id, in the node's tree, with no settings.
      expect(host.sandboxCgroup).toEndWith(`/${host.sandboxId}`);
      expect(host.containerCgroup).toEndWith(`/${host.containerId}`);

      const cni = report.cni!;
      expect(cni.networkReady).toBe(true);
      expect(cni.podNetworkMode).toBe("POD");
      expect(cni.podIp).toMatch(/^10\.88\.\d+\.\d+$/);
      expect(cni.states.at(-1)).toBe("CONTAINER_EXITED");
      expect(cni.final.exit_code).toBe(0);
      expect(cni.logLines.find((l) => l.includes(" NETNS "))).not.toEndWith(`NETNS ${readlinkSync(`/proc/${initPid}/ns/net`)}`);
      expect(cni.logLines.some((l) => l.includes(`inet ${cni.podIp}/16`))).toBe(true);
      expect(cni.logLines.some((l) => l.endsWith("stdout F PING-GATEWAY-OK"))).toBe(true);
      expect(cni.addressReleased).toBe(true);
      expect(cni.listedAfterRemove).toBe(false);
      expect(CNI_GATEWAY).toBe("10.88.0.1");
    });
  }, 180_000);
});
