// Hard limits, each refused with an InvalidArgumentError and fast (< 1 s), and
// the parse times of big-but-legal configs (printed for the report).
import { describe, expect, test } from "bun:test";
import { parseConfigDocuments } from "../../../src/config/parse.ts";
import { CONFIG_LIMITS } from "../../../src/config/yaml.ts";
import { InvalidArgumentError } from "../../../src/lib/errors.ts";

// Times are CPU time of this process (user + system), printed with wall time: the
// machine running the tests is shared, and waiting for a core is not parse time.
function clock(): () => { ms: number; wallMs: number } {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  return () => {
    const cpu = process.cpuUsage(cpu0);
    return { ms: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0 };
  };
}

function refusal(input: string | Uint8Array): { message: string; ms: number; wallMs: number } {
  const stop = clock();
  try {
    parseConfigDocuments(input);
  } catch (e) {
    const t = stop();
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return { message: (e as Error).message, ...t };
  }
  throw new Error("config was accepted");
}

function timed<T>(f: () => T): { value: T; ms: number; wallMs: number } {
  const stop = clock();
  const value = f();
  return { value, ...stop() };
}

const sysctls = (n: number) =>
  `version: v1alpha1\nmachine:\n  sysctls:\n${Array.from({ length: n }, (_, i) => `    net.ipv4.conf.if${i}.forwarding: "1"\n`).join("")}`;

describe("limits, refused fast", () => {
  const over = CONFIG_LIMITS.maxBytes + 1;
  const cases: [string, () => string | Uint8Array, string][] = [
    ["more than 1 MiB of bytes", () => new Uint8Array(over).fill(0x20), `config: ${over} bytes is over the limit of ${CONFIG_LIMITS.maxBytes} bytes`],
    ["more than 1 MiB of text", () => `version: v1alpha1\n#${"x".repeat(over)}\n`, "bytes is over the limit of 1048576 bytes"],
    [
      "invalid UTF-8",
      () => new Uint8Array([...Buffer.from('version: v1alpha1\nmachine:\n  env:\n    A: "'), 0xc3, 0x28, 0x22, 0x0a]),
      "config: not valid UTF-8 (byte 42 starts an invalid sequence)",
    ],
    ["a lone UTF-8 continuation byte", () => new Uint8Array([0x80]), "config: not valid UTF-8 (byte 0"],
    ["block nesting of 500,000 levels in 1 MiB", () => `${"- ".repeat(500_000)}x\n`, "config: nesting deeper than 64 levels"],
    ["flow nesting of 500,000 levels", () => `${"[".repeat(500_000)}${"]".repeat(500_000)}\n`, "config: nesting deeper than 64 levels"],
    [
      "block maps 70 levels deep",
      () => `version: v1alpha1\nminos:\n${Array.from({ length: 70 }, (_, i) => `${"  ".repeat(i + 1)}k${i}:\n`).join("")}`,
      "nesting deeper than 64 levels",
    ],
    ["a map of 10,001 entries", () => sysctls(10_001), "config: 10001 entries in one map or list at line 4, column 5 (the limit is 10000)"],
    [
      "a list of 10,001 entries",
      () => `version: v1alpha1\nmachine:\n  certSANs: [${Array.from({ length: 10_001 }, () => "a").join(", ")}]\n`,
      "config: 10001 entries in one map or list at line 3, column 13 (the limit is 10000)",
    ],
    [
      "101 aliases",
      () => `version: v1alpha1\nmachine:\n  env: &e { A: b }\n  certSANs: [${Array.from({ length: 101 }, () => "*e").join(", ")}]\n`,
      "config: more than 100 aliases",
    ],
    [
      "aliases expanding past 10,000 values (billion laughs)",
      () => {
        const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
        for (let i = 1; i < 8; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(", ")}]`);
        return `${lines.join("\n")}\n`;
      },
      "aliases expand to more than 10000 values",
    ],
    ["a self-referencing alias", () => "version: v1alpha1\nmachine:\n  pods: &p [*p]\n", "machine.pods[0][0]: alias *p refers to itself"],
    ["65 documents", () => Array.from({ length: 65 }, () => "version: v1alpha1\n").join("---\n"), "config: more than 64 YAML documents"],
    ["a duplicate key", () => "version: v1alpha1\nmachine:\n  sysctls:\n    a: '1'\n    a: '2'\n", "machine.sysctls.a: duplicate key"],
    [
      "a duplicate key in a 10,000-entry map",
      () => `${sysctls(9_999)}    net.ipv4.conf.if5.forwarding: "0"\n`,
      'machine.sysctls["net.ipv4.conf.if5.forwarding"]: duplicate key',
    ],
    ["a duplicate top-level section", () => "version: v1alpha1\nmachine: {}\nmachine: {}\n", "machine: duplicate key"],
  ];
  for (const [name, make, want] of cases) {
    test(name, () => {
      const input = make();
      const r = refusal(input);
      expect(r.message).toContain(want);
      console.log(`${name}: refused in ${r.ms.toFixed(1)} ms CPU (${r.wallMs.toFixed(1)} ms wall)`);
      expect(r.ms).toBeLessThan(1000);
    });
  }

  // root map > cluster > apiServer > auditPolicy (4 levels), then `levels - 4` more in three YAML shapes.
  const shapes: [string, (levels: number) => string][] = [
    [
      "block maps",
      (n) =>
        `version: v1alpha1\ncluster:\n  apiServer:\n    auditPolicy:\n${Array.from({ length: n - 4 }, (_, i) => `${"  ".repeat(i + 4)}k${i + 4}:\n`).join("")}${"  ".repeat(n)}leaf: x\n`,
    ],
    ["flow lists", (n) => `version: v1alpha1\ncluster:\n  apiServer:\n    auditPolicy:\n      r: ${"[".repeat(n - 4)}x${"]".repeat(n - 4)}\n`],
    ["compact block lists", (n) => `version: v1alpha1\ncluster:\n  apiServer:\n    auditPolicy:\n      r:\n        ${"- ".repeat(n - 4)}x\n`],
  ];
  for (const [shape, make] of shapes) {
    test(`${shape}: exactly 64 levels are accepted, 65 refused`, () => {
      expect(parseConfigDocuments(make(64)).config.cluster?.apiServer?.auditPolicy).toBeDefined();
      expect(refusal(make(65)).message).toContain("nesting deeper than 64 levels");
    });
  }

  const forbidden = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty"];
  const freeForm = [
    "machine.sysctls",
    "machine.env",
    "machine.kubelet.extraArgs",
    "cluster.apiServer.extraArgs",
    "cluster.apiServer.auditPolicy",
    "machine.nodeLabels",
  ];
  for (const key of forbidden) {
    for (const at of freeForm) {
      test(`${at}.${key} is refused, and Object.prototype is untouched`, () => {
        const parts = at.split(".");
        const yaml = `version: v1alpha1\n${parts.map((p, i) => `${"  ".repeat(i)}${p}:`).join("\n")}\n${"  ".repeat(parts.length)}${key}: "x"\n`;
        expect(refusal(yaml).message).toContain(`${at}.${key}: the key "${key}" is not allowed`);
        expect(({} as Record<string, unknown>).x).toBeUndefined();
        expect(typeof Object.prototype.toString).toBe("function");
      });
    }
  }

  test("a __proto__ key deep in Unstructured data stays an own key of a null-prototype map", () => {
    const r = parseConfigDocuments('version: v1alpha1\ncluster:\n  apiServer:\n    auditPolicy:\n      rules:\n        - __proto__: { polluted: "yes" }\n');
    const policy = r.config.cluster?.apiServer?.auditPolicy as { rules: Record<string, unknown>[] };
    const rule = policy.rules[0]!;
    expect(Object.getPrototypeOf(rule)).toBeNull();
    expect(Object.keys(rule)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

test("a refusal lists at most 100 problems, then how many more", () => {
  const msg = refusal(`version: v1alpha1\nmachine:\n  sysctls:\n${Array.from({ length: 250 }, (_, i) => `    k${i}: ${i}\n`).join("")}`).message;
  const lines = msg.split("\n");
  expect(lines).toHaveLength(1 + 100 + 1);
  expect(lines[1]).toBe("  machine.sysctls.k0: expected string, got number");
  expect(lines[101]).toBe("  … and 150 more");
});

describe("parse + validate times", () => {
  test("10,000 sysctls (the yaml library's own duplicate-key check would be quadratic here)", () => {
    const text = sysctls(10_000);
    const { value, ms, wallMs } = timed(() => parseConfigDocuments(Buffer.from(text)));
    expect(Object.keys(value.config.machine.sysctls)).toHaveLength(10_000);
    console.log(`10,000 sysctls (${text.length} bytes): ${ms.toFixed(0)} ms CPU (${wallMs.toFixed(0)} ms wall)`);
    expect(ms).toBeLessThan(1500);
  });

  test("a config just under 1 MiB", () => {
    const files = Array.from(
      { length: 3000 },
      (_, i) => `    - path: /var/etc/app/file-${i}.conf\n      content: "setting-${i} = ${"v".repeat(60)}"\n      permissions: 0o600\n      op: create\n`,
    ).join("");
    const manifest = Array.from({ length: 5000 }, (_, i) => `        key${i}: value-${i}-${"m".repeat(20)}`).join("\n");
    let text = `version: v1alpha1\nmachine:\n  files:\n${files}  sysctls:\n${Array.from({ length: 3000 }, (_, i) => `    kernel.x${i}: "${i}"\n`).join("")}cluster:\n  inlineManifests:\n    - name: big\n      contents: |\n${manifest}\n`;
    const pad = CONFIG_LIMITS.maxBytes - Buffer.byteLength(text) - 1;
    expect(pad).toBeGreaterThan(0);
    text += `#${"c".repeat(pad - 1)}\n`;
    expect(Buffer.byteLength(text)).toBe(CONFIG_LIMITS.maxBytes);
    const { value, ms, wallMs } = timed(() => parseConfigDocuments(Buffer.from(text)));
    expect(value.config.machine.files).toHaveLength(3000);
    console.log(
      `1 MiB config (${text.length} bytes, 3,000 files, 3,000 sysctls, a 5,000-line manifest): ${ms.toFixed(0)} ms CPU (${wallMs.toFixed(0)} ms wall)`,
    );
    expect(ms).toBeLessThan(3000);
  });

  test("1 MiB dense with keys: five free-form maps of 5,000 entries", () => {
    const block = (name: string, n: number) =>
      `  ${name}:\n${Array.from({ length: n }, (_, i) => `    ${name}-key-${String(i).padStart(5, "0")}.example: "value-${i}"\n`).join("")}`;
    let text = `version: v1alpha1\nmachine:\n${["sysctls", "sysfs", "env", "nodeLabels", "nodeTaints"].map((m) => block(m, 5000)).join("")}`;
    while (Buffer.byteLength(text) > CONFIG_LIMITS.maxBytes) text = text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1);
    const { value, ms, wallMs } = timed(() => parseConfigDocuments(Buffer.from(text)));
    const keys = ["sysctls", "sysfs", "env", "nodeLabels", "nodeTaints"] as const;
    const total = keys.reduce((n, k) => n + Object.keys(value.config.machine[k] ?? {}).length, 0);
    console.log(`1 MiB dense config (${Buffer.byteLength(text)} bytes, ${total} map entries): ${ms.toFixed(0)} ms CPU (${wallMs.toFixed(0)} ms wall)`);
    expect(total).toBeGreaterThan(20_000);
    expect(ms).toBeLessThan(3000);
  });
});
