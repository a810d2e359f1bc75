// IP literals told apart from host names without node:net (whose isIP would
// load that module into PID 1 for one check: src/lib/node-libs.ts). Same
// answers as node:net's isIP: dotted-quad IPv4 without leading zeros, IPv6
// in any RFC 4291 text form (with "::", an embedded IPv4 tail, a %zone).

/** 4 or 6 for an IP literal, 0 for anything else. */
export function ipVersion(s: string): 0 | 4 | 6 {
  if (isIPv4(s)) return 4;
  if (isIPv6(s)) return 6;
  return 0;
}

export function isIPv4(s: string): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) if (!isOctet(p)) return false;
  return true;
}

function isOctet(p: string): boolean {
  if (p.length === 0 || p.length > 3) return false;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  if (p.length > 1 && p.charCodeAt(0) === 0x30) return false;
  return Number(p) <= 255;
}

function isHexGroup(g: string): boolean {
  if (g.length === 0 || g.length > 4) return false;
  for (let i = 0; i < g.length; i++) {
    const c = g.charCodeAt(i);
    const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
    if (!hex) return false;
  }
  return true;
}

function isZone(z: string): boolean {
  if (z.length === 0) return false;
  for (let i = 0; i < z.length; i++) {
    const c = z.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x2e || c === 0x3a || c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

export function isIPv6(s: string): boolean {
  let text = s;
  const pct = text.indexOf("%");
  if (pct >= 0) {
    if (!isZone(text.slice(pct + 1))) return false;
    text = text.slice(0, pct);
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (h: string): string[] | undefined => (h === "" ? [] : h.split(":"));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return false;
  const all = [...head, ...tail];
  // An IPv4 tail counts as two groups and may only come last.
  let groups = all.length;
  // The last group of the text: none when it ends in "::".
  const last = halves.length === 2 ? tail[tail.length - 1] : head[head.length - 1];
  if (last?.includes(".")) {
    if (!isIPv4(last)) return false;
    all.pop();
    groups++;
  }
  for (const g of all) if (!isHexGroup(g)) return false;
  return halves.length === 2 ? groups <= 7 : groups === 8;
}
