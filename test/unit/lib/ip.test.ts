// ipVersion (src/lib/ip.ts) stands in for node:net's isIP in PID 1, so it must
// give the same answer for every input: literal forms, near misses, and a
// fuzz over the characters addresses are made of.
import { expect, test } from "bun:test";
import { isIP } from "node:net";
import { ipVersion } from "../../../src/lib/ip.ts";

const CASES = [
  "1.2.3.4",
  "0.0.0.0",
  "255.255.255.255",
  "256.1.1.1",
  "01.2.3.4",
  "1.2.3",
  "1.2.3.4.5",
  "1..2.3",
  "0x1.2.3.4",
  "1.2.3.-4",
  " 1.2.3.4",
  "1.2.3.4 ",
  "::",
  "::1",
  "1::",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7::",
  "::1:2:3:4:5:6:7",
  "1::2::3",
  "1::2:3:4:5:6:7",
  "1::2:3:4:5:6:7:8",
  "fe80::1%eth0",
  "fe80::1%",
  "fe80::1%25eth0",
  "::%1",
  "1:2:3:4:5:6:7:8%zone",
  "::ffff:1.2.3.4",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "::1.2.3.4",
  "1.2.3.4::",
  "::ffff:01.2.3.4",
  "gggg::1",
  "12345::1",
  ":1::",
  ":::",
  "1:",
  "ABCD::EF",
  "a:b:c:d:e:f:0:1",
  "[::1]",
  "example.com",
  "",
];

test("the same verdict as node:net's isIP on literal forms and near misses", () => {
  for (const c of CASES) expect([c, ipVersion(c) as number]).toEqual([c, isIP(c)]);
});

test("the same verdict on 100,000 random strings of address characters", () => {
  const alphabet = "0123456789abcdefABCDEF:.%";
  let seed = 19;
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed;
  };
  for (let i = 0; i < 100_000; i++) {
    let s = "";
    const n = 1 + (next() % 24);
    for (let j = 0; j < n; j++) s += alphabet[next() % alphabet.length];
    if (ipVersion(s) !== isIP(s)) expect([s, ipVersion(s) as number]).toEqual([s, isIP(s)]);
  }
});
