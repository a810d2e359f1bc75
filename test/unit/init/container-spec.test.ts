// The OCI runtime spec minos builds for a service container, and the kubelet's
// and extension services' specs as Talos 1.7 has them.
import { describe, expect, test } from "bun:test";
import { DEFAULT_CAPS, mergeEnv, parseUser, runtimeSpec, type ContainerRunSpec } from "../../../src/init/supervisor/oci-spec.ts";
import { kubeletArgs, kubeletContainer, KUBELET_CGROUP, KUBELET_OOM_SCORE } from "../../../src/init/supervisor/kubelet.ts";
import { builtinServices, extraServices, EXTENSION_OOM_SCORE } from "../../../src/init/supervisor/builtin.ts";
import { parseConfig } from "../../../src/init/config/machine.ts";

const IMAGE = { entrypoint: ["/bin/busybox"], cmd: ["sh"], env: ["PATH=/bin", "A=image"], workingDir: "/work", user: "" };
const base: ContainerRunSpec = { image: "r/x:1", namespace: "system", env: ["A=svc", "B=2"], mounts: [], hostNamespaces: [], noNewPrivileges: true };
const ctx = { id: "svc", cgroupsPath: "/system/extra/svc", oomScore: -600, grantable: ["CAP_CHOWN", "CAP_SYS_ADMIN"] };
type Spec = {
  process: {
    args: string[];
    env: string[];
    cwd: string;
    user: { uid: number; gid: number };
    capabilities: { bounding: string[] };
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
    rlimits: unknown[];
  };
  linux: { namespaces: { type: string }[]; cgroupsPath: string; resources: Record<string, unknown>; maskedPaths: string[]; rootfsPropagation?: string };
  mounts: { destination: string; type: string; options: string[] }[];
  root: { path: string; readonly: boolean };
  hostname?: string;
};

describe("runtimeSpec", () => {
  test("the image's entrypoint+cmd, env merged (service wins), cwd, root, private namespaces, default caps, cgroup path, oom, no_new_privs", () => {
    const s = runtimeSpec(base, IMAGE, ctx) as unknown as Spec;
    expect(s.process.args).toEqual(["/bin/busybox", "sh"]);
    expect(s.process.env).toEqual(["PATH=/bin", "A=svc", "B=2"]);
    expect(s.process.cwd).toBe("/work");
    expect(s.process.user).toEqual({ uid: 0, gid: 0 });
    expect(s.process.capabilities.bounding).toEqual(DEFAULT_CAPS);
    expect(s.process.noNewPrivileges).toBe(true);
    expect(s.process.oomScoreAdj).toBe(-600);
    expect(s.process.rlimits).toEqual([{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }]);
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(["pid", "ipc", "uts", "mount", "network"]);
    expect(s.linux.cgroupsPath).toBe("/system/extra/svc");
    // No cpu/memory/pids settings at all: only the device rule.
    expect(Object.keys(s.linux.resources)).toEqual(["devices"]);
    expect(s.linux.maskedPaths).toContain("/proc/kcore");
    expect(s.root).toEqual({ path: "rootfs", readonly: false });
    expect(s.hostname).toBe("svc");
    expect(s.mounts.map((m) => m.destination)).toEqual(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/run", "/sys/fs/cgroup"]);
  });

  test("args replace entrypoint+cmd; an entrypoint override drops cmd; host namespaces left out; 'all' caps: what containerd can grant", () => {
    expect((runtimeSpec({ ...base, args: ["/x", "-y"] }, IMAGE, ctx) as unknown as Spec).process.args).toEqual(["/x", "-y"]);
    expect((runtimeSpec({ ...base, entrypoint: ["/e"] }, IMAGE, ctx) as unknown as Spec).process.args).toEqual(["/e"]);
    const s = runtimeSpec({ ...base, hostNamespaces: ["network", "pid"], capabilities: "all" }, IMAGE, ctx) as unknown as Spec;
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(["ipc", "uts", "mount"]);
    expect(s.process.capabilities.bounding).toEqual(["CAP_CHOWN", "CAP_SYS_ADMIN"]);
  });

  test("no command anywhere: refused naming the image; a name user refused", () => {
    expect(() => runtimeSpec(base, { ...IMAGE, entrypoint: [], cmd: [] }, ctx)).toThrow(/no command \(the image r\/x:1 has no entrypoint or cmd/);
    expect(() => runtimeSpec({ ...base, user: "nobody" }, IMAGE, ctx)).toThrow(/only numeric/);
    expect(parseUser("1000:100")).toEqual({ uid: 1000, gid: 100 });
    expect(parseUser("7")).toEqual({ uid: 7, gid: 7 });
  });

  test("a given mount replaces the default at its destination; privileged makes /sys rw and masks nothing", () => {
    const s = runtimeSpec(
      { ...base, privileged: true, mounts: [{ type: "sysfs", destination: "/sys", source: "/sys", options: ["bind", "ro"] }] },
      IMAGE,
      ctx,
    ) as unknown as Spec;
    expect(s.mounts.filter((m) => m.destination === "/sys")).toEqual([
      { type: "sysfs", destination: "/sys", source: "/sys", options: ["bind", "rw"] } as never,
    ]);
    expect(s.linux.maskedPaths).toEqual([]);
  });

  test("mergeEnv keeps first positions, later values", () => {
    expect(mergeEnv(["A=1", "B=1"], ["B=2", "C=3"], ["A=9"])).toEqual(["A=9", "B=2", "C=3"]);
  });
});

const CLUSTER = "cluster:\n  controlPlane: { endpoint: https://10.0.0.1:6443 }\n";

describe("the kubelet as Talos 1.7 runs it", () => {
  test("Talos's default flags sorted, extraArgs merged, denied ones refused", () => {
    const cfg = parseConfig(`version: v1alpha1\nmachine:\n  network: { hostname: n1 }\n  kubelet: { extraArgs: { v: "2", config: /x } }\n`);
    const { args, refused } = kubeletArgs(cfg, "n1");
    expect(args).toEqual([
      "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubeconfig",
      "--cert-dir=/var/lib/kubelet/pki",
      "--config=/etc/kubernetes/kubelet.yaml",
      "--hostname-override=n1",
      "--kubeconfig=/etc/kubernetes/kubeconfig-kubelet",
      "--v=2",
    ]);
    expect(refused).toEqual(["config"]);
  });

  test("a container of machine.kubelet.image: host net+pid, all caps, shared propagation, Talos's mounts then extraMounts, cgroup, oom", () => {
    const cfg = parseConfig(
      `version: v1alpha1\nmachine:\n  kubelet:\n    image: r:5000/kubelet:v1\n    extraMounts: [ { destination: /var/mnt, source: /var/mnt, type: bind, options: [rbind, rw] } ]\n${CLUSTER}`,
    );
    const { container } = kubeletContainer(cfg, "n1");
    expect(container.image).toBe("r:5000/kubelet:v1");
    expect(container.namespace).toBe("system");
    expect(container.hostNamespaces).toEqual(["network", "pid"]);
    expect(container.capabilities).toBe("all");
    expect(container.rootfsPropagation).toBe("shared");
    expect(container.args![0]).toBe("/usr/local/bin/kubelet");
    expect(container.mounts.map((m) => m.destination)).toEqual([
      "/dev",
      "/sys",
      "/sys/fs/cgroup",
      "/lib/modules",
      "/etc/kubernetes",
      "/usr/local/lib/kubelet/credentialproviders",
      "/etc/nfsmount.conf",
      "/etc/machine-id",
      "/etc/os-release",
      "/system/resolved/resolv.conf",
      "/etc/cni",
      "/usr/libexec/kubernetes",
      "/var/run",
      "/var/lib/containerd",
      "/var/lib/kubelet",
      "/var/log/containers",
      "/var/log/pods",
      "/var/mnt",
    ]);
    const svc = builtinServices(cfg, true).find((s) => s.id === "kubelet")!;
    expect(svc.cgroup).toBe(KUBELET_CGROUP);
    expect(svc.oomScore).toBe(KUBELET_OOM_SCORE);
    expect(svc.awaitedAtBoot).toBe(false);
    expect(svc.container?.image).toBe("r:5000/kubelet:v1");
  });

  test("without a cluster section the kubelet is Skipped with the reason", () => {
    const svc = builtinServices(parseConfig("version: v1alpha1\n"), true).find((s) => s.id === "kubelet")!;
    expect(svc.precondition()).toMatch(/^no cluster section in the machine config/);
  });
});

describe("minos.services with an image (extension services)", () => {
  test("a container in system, host network, all caps and devices, read-only rootfs, oom -600, its mounts and env", () => {
    const cfg = parseConfig(
      "version: v1alpha1\nmachine:\n  env: { G: g }\nminos:\n  services:\n    - id: ext\n      image: r:5000/ext:v1\n      env: { K: v }\n      mounts: [ { source: /var/ext, destination: /data, options: [rbind, rw] } ]\n      restart: always\n",
    );
    const [svc] = extraServices(cfg);
    expect(svc!.dependsOn).toEqual(["containerd"]);
    expect(svc!.oomScore).toBe(EXTENSION_OOM_SCORE);
    expect(svc!.restart).toBe("always");
    expect(svc!.container).toMatchObject({
      image: "r:5000/ext:v1",
      namespace: "system",
      env: ["G=g", "K=v"],
      mounts: [{ source: "/var/ext", destination: "/data", type: "bind", options: ["rbind", "rw"] }],
      hostNamespaces: ["network"],
      capabilities: "all",
      readonlyRootfs: true,
    });
    expect(svc!.container!.args).toBeUndefined();
  });

  test("an image service needs no command; a command service still does", () => {
    expect(() => parseConfig("version: v1alpha1\nminos:\n  services:\n    - { id: a, image: r/x:1 }\n")).not.toThrow();
    expect(() => parseConfig("version: v1alpha1\nminos:\n  services:\n    - { id: a }\n")).toThrow(/command: must not be empty \(or give an image\)/);
  });
});
