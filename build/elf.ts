// ldd over many ELF files in one call. ldd is a shell script: run once per
// file over the ~120 iptables plugins it cost 1.4 s of a 3 s build; one call
// with every file costs one script start.

/** For each file, the absolute library paths ldd resolves (interpreter included). */
export function lddMany(files: string[], env: Record<string, string>): Map<string, string[]> {
  const result = new Map<string, string[]>();
  if (files.length === 0) return result;
  const r = Bun.spawnSync(["ldd", ...files], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const text = r.stdout.toString();
  // With one argument ldd prints no "file:" header; with several it does.
  let file = files.length === 1 ? (files[0] ?? "") : "";
  if (file) result.set(file, []);
  for (const line of text.split("\n")) {
    if (files.length > 1 && !line.startsWith("\t") && line.endsWith(":")) {
      file = line.slice(0, -1);
      result.set(file, []);
      continue;
    }
    const missing = /^\s*(\S+) => not found/.exec(line);
    if (missing) throw new Error(`build: ldd ${file}: ${missing[1]} not found`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) result.get(file)?.push(m[1]);
  }
  for (const f of files) {
    if (!result.has(f)) throw new Error(`build: ldd ${f} printed nothing: ${r.stderr.toString().trim()}`);
  }
  return result;
}
