// The log ring's bounds (lines, bytes, bytes per line), the pipe line
// splitter's (no line over LINE_MAX_BYTES whatever the bytes, cuts marked, on
// character boundaries, across chunks) and the duty cycle that paces readers.
import { describe, expect, test } from "bun:test";
import { DutyCycle } from "../../../src/lib/duty.ts";
import { LineSplitter } from "../../../src/lib/lines.ts";
import { CUT_MARK, charBoundary, LINE_MAX_BYTES, LogRing } from "../../../src/lib/ring.ts";

const bytesOf = (s: string) => Buffer.byteLength(s);

describe("LogRing", () => {
  test("keeps the newest lines up to its line bound, oldest first", () => {
    const r = new LogRing(3);
    for (const l of ["a", "b", "c", "d", "e"]) r.push(l);
    expect(r.tail()).toEqual(["c", "d", "e"]);
    expect(r.tail(2)).toEqual(["d", "e"]);
    expect(r.tail(0)).toEqual([]);
    expect(r.tail(-1)).toEqual(["c", "d", "e"]);
    expect(r.length).toBe(3);
  });

  test("holds at most maxBytes: old lines go when new bytes come, whatever the line count", () => {
    const r = new LogRing(1000, 100);
    for (let i = 0; i < 50; i++) r.push(`${i}`.padStart(10, "x")); // 10 bytes each
    expect(r.length).toBe(10);
    expect(r.bytes).toBe(100);
    expect(r.tail().at(-1)).toBe("xxxxxxxx49");
    expect(r.tail()[0]).toBe("xxxxxxxx40");
    r.push("y".repeat(95));
    expect(r.tail()).toEqual(["y".repeat(95)]);
    expect(r.bytes).toBe(95);
  });

  test("the default byte bound holds against lines at the line bound", () => {
    const r = new LogRing(2000);
    for (let i = 0; i < 1000; i++) r.push("z".repeat(LINE_MAX_BYTES));
    expect(r.bytes).toBeLessThanOrEqual(1 << 20);
    expect(r.length).toBe(Math.floor((1 << 20) / LINE_MAX_BYTES));
  });

  test("cuts a line over LINE_MAX_BYTES, marks the cut, counts multibyte characters as bytes", () => {
    const r = new LogRing(10);
    r.push("a".repeat(100_000));
    r.push("é".repeat(10_000)); // 2 bytes each
    const [a, e] = r.tail();
    for (const l of [a!, e!]) {
      expect(bytesOf(l)).toBeLessThanOrEqual(LINE_MAX_BYTES);
      expect(l.endsWith(CUT_MARK)).toBe(true);
    }
    expect(e!.slice(0, -CUT_MARK.length)).toMatch(/^é+$/); // no broken character at the cut
    r.push("short");
    expect(r.tail(1)).toEqual(["short"]);
  });

  test("followers get every line; a throwing follower does not stop the others", () => {
    const r = new LogRing(2);
    const got: string[] = [];
    r.follow(() => {
      throw new Error("gone");
    });
    const un = r.follow((l) => got.push(l));
    r.push("1");
    r.push("2");
    un();
    r.push("3");
    expect(got).toEqual(["1", "2"]);
    expect(r.followerCount).toBe(1);
  });
});

test("charBoundary steps back out of a UTF-8 sequence", () => {
  const b = Buffer.from("a€b"); // € is e2 82 ac
  expect(charBoundary(b, 1)).toBe(1);
  expect(charBoundary(b, 2)).toBe(1);
  expect(charBoundary(b, 3)).toBe(1);
  expect(charBoundary(b, 4)).toBe(4);
  expect(charBoundary(b, 9)).toBe(b.length);
});

function split(chunks: (string | Uint8Array)[], max?: number): string[] {
  const s = new LineSplitter(max);
  const out: string[] = [];
  for (const c of chunks) {
    s.push(typeof c === "string" ? Buffer.from(c) : c);
    for (let l = s.next(); l !== undefined; l = s.next()) out.push(l);
  }
  const last = s.end();
  if (last !== undefined) out.push(last);
  return out;
}

describe("LineSplitter", () => {
  test("splits on newlines, joins a line across chunks, keeps empty lines and a last unterminated line", () => {
    expect(split(["a\nb", "c\n\n", "d"])).toEqual(["a", "bc", "", "d"]);
    expect(split(["x\n"])).toEqual(["x"]);
    expect(split(["€".slice(0), Buffer.from("€\n").subarray(0, 1), Buffer.from("€\n").subarray(1)])).toEqual(["€€"]);
  });

  test("no newline at all: every piece is at most the bound and marked, and no byte is lost", () => {
    const chunk = Buffer.alloc(65536, "y");
    const out = split(Array.from({ length: 8 }, () => chunk));
    expect(Math.max(...out.map(bytesOf))).toBeLessThanOrEqual(LINE_MAX_BYTES);
    expect(out.slice(0, -1).every((l) => l.endsWith(CUT_MARK))).toBe(true);
    const kept = out.map((l) => l.replace(CUT_MARK, "")).join("");
    expect(kept).toBe("y".repeat(8 * 65536));
  });

  test("a line held across chunks that reaches the bound is cut there, not grown", () => {
    const max = 32;
    // 30 bytes held, then more without a newline: the held start alone is at the bound.
    const out = split(["a".repeat(30), "b".repeat(30), "c\n"], max);
    expect(out.every((l) => bytesOf(l) <= max)).toBe(true);
    expect(out.map((l) => l.replace(CUT_MARK, "")).join("")).toBe(`${"a".repeat(30)}${"b".repeat(30)}c`);
    // A line of exactly the bound is not cut.
    expect(split([`${"a".repeat(20)}`, `${"b".repeat(12)}\n`], max)).toEqual([`${"a".repeat(20)}${"b".repeat(12)}`]);
  });

  test("cuts on character boundaries and decodes invalid UTF-8 without throwing", () => {
    const out = split([Buffer.from(`${"€".repeat(5000)}\n`), Uint8Array.of(0xff, 0xfe, 10)]);
    for (const l of out.slice(0, -1)) expect(l.replace(CUT_MARK, "")).toMatch(/^€+$/);
    expect(out.at(-1)).toBe("\uFFFD\uFFFD");
  });

  test("the held start of a line is a copy: it neither pins nor depends on its chunk (a Buffer, whose slice() is a view)", () => {
    // Observable: the line is right however the chunk is reused afterwards.
    const s = new LineSplitter();
    const buf = Buffer.from("abc\ndef");
    s.push(buf);
    const first = s.next();
    expect(s.next()).toBeUndefined();
    buf.fill(0x7a);
    s.push(Buffer.from("\n"));
    expect([first, s.next()]).toEqual(["abc", "def"]);
  });
});

describe("DutyCycle", () => {
  test("lets a burst run, then asks for a wait that brings the busy share down to `share`", () => {
    let now = 0;
    const d = new DutyCycle(0.25, 10, () => now);
    d.spend(5);
    expect(d.waitMs()).toBe(0);
    d.spend(10); // 15 ms of debt, 5 over the burst: 20 ms at a quarter
    expect(d.waitMs()).toBe(20);
    now += 20;
    expect(d.waitMs()).toBe(0);
  });

  test("over a long run of work and waits the busy share converges to `share`", () => {
    let now = 0;
    const d = new DutyCycle(0.15, 20, () => now);
    let busy = 0;
    for (let i = 0; i < 10_000; i++) {
      now += 3;
      busy += 3;
      d.spend(3);
      now += d.waitMs();
    }
    expect(busy / now).toBeGreaterThan(0.14);
    expect(busy / now).toBeLessThan(0.16);
  });

  test("refuses a share outside (0, 1]", () => {
    expect(() => new DutyCycle(0, 1)).toThrow(RangeError);
    expect(() => new DutyCycle(1.5, 1)).toThrow(RangeError);
  });
});
