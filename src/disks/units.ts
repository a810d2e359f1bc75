// Byte sizes in and out: Talos's parser (go-humanize's ParseBytes: "4GB" is
// 4·10^9, "4GiB" 4·2^30, a bare number is bytes, case and one space do not
// matter) and the short binary form minos prints ("1.0 GiB").

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 2 ** 10,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mi: 2 ** 20,
  mib: 2 ** 20,
  g: 1e9,
  gb: 1e9,
  gi: 2 ** 30,
  gib: 2 ** 30,
  t: 1e12,
  tb: 1e12,
  ti: 2 ** 40,
  tib: 2 ** 40,
  p: 1e15,
  pb: 1e15,
  pi: 2 ** 50,
  pib: 2 ** 50,
  e: 1e18,
  eb: 1e18,
  ei: 2 ** 60,
  eib: 2 ** 60,
};

/** "4GB" → 4000000000; throws on anything it cannot read. */
export function parseBytes(text: string): number {
  const m = /^\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) throw new Error(`not a size: "${text}"`);
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) throw new Error(`unknown size unit "${m[2]}" in "${text}"`);
  return Math.floor(Number(m[1]!.replaceAll(",", "")) * unit);
}

/** 1073741824 → "1.0 GiB"; under 1 GiB in MiB, under 1 MiB in KiB or bytes. */
export function formatBytes(n: number): string {
  const steps: [number, string][] = [
    [2 ** 40, "TiB"],
    [2 ** 30, "GiB"],
    [2 ** 20, "MiB"],
    [2 ** 10, "KiB"],
  ];
  for (const [size, name] of steps) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) && size <= 2 ** 20 ? v : v.toFixed(1)} ${name}`;
    }
  }
  return `${n} B`;
}
