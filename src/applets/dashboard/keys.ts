// Terminal input bytes -> key names -> dashboard actions. The Linux console,
// xterm and tmux send different sequences for the same key (F1 is ESC [ [ A on
// the console, ESC O P in xterm, ESC [ 1 1 ~ in some rxvt modes), so all are
// listed here.
import type { Action } from "./state.ts";

export type Key = "f1" | "f2" | "f3" | "up" | "down" | "pgup" | "pgdn" | "home" | "end" | "tab" | "ctrl-c" | "esc" | { char: string };

const SEQUENCES: [string, Key][] = [
  ["\x1b[[A", "f1"],
  ["\x1b[[B", "f2"],
  ["\x1b[[C", "f3"],
  ["\x1bOP", "f1"],
  ["\x1bOQ", "f2"],
  ["\x1bOR", "f3"],
  ["\x1b[11~", "f1"],
  ["\x1b[12~", "f2"],
  ["\x1b[13~", "f3"],
  ["\x1b[1P", "f1"],
  ["\x1b[1Q", "f2"],
  ["\x1b[1R", "f3"],
  ["\x1b[A", "up"],
  ["\x1bOA", "up"],
  ["\x1b[B", "down"],
  ["\x1bOB", "down"],
  ["\x1b[5~", "pgup"],
  ["\x1b[6~", "pgdn"],
  ["\x1b[1~", "home"],
  ["\x1b[7~", "home"],
  ["\x1b[H", "home"],
  ["\x1bOH", "home"],
  ["\x1b[4~", "end"],
  ["\x1b[8~", "end"],
  ["\x1b[F", "end"],
  ["\x1bOF", "end"],
];

/** Splits one read() of input into keys. Unknown escape sequences are skipped whole. */
export function decodeKeys(input: string): Key[] {
  const keys: Key[] = [];
  let i = 0;
  while (i < input.length) {
    const rest = input.slice(i);
    const seq = SEQUENCES.find(([s]) => rest.startsWith(s));
    if (seq) {
      keys.push(seq[1]);
      i += seq[0].length;
      continue;
    }
    const ch = input[i]!;
    if (ch === "\x1b") {
      // A lone ESC, or a sequence we do not know: skip ESC [ params final / ESC O x.
      const m = /^\x1b(\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|O.)/.exec(rest);
      if (m) i += m[0].length;
      else {
        keys.push("esc");
        i++;
      }
      continue;
    }
    if (ch === "\x03") keys.push("ctrl-c");
    else if (ch === "\t") keys.push("tab");
    else keys.push({ char: ch });
    i++;
  }
  return keys;
}

/** What a key does; undefined for keys with no meaning. */
export function actionFor(key: Key, pageLines: number): Action | undefined {
  if (typeof key === "object") {
    switch (key.char) {
      case "1":
        return { type: "screen", screen: "summary" };
      case "2":
        return { type: "screen", screen: "monitor" };
      case "3":
        return { type: "screen", screen: "config" };
      case "s":
        return { type: "sort", by: "toggle" };
      case "c":
        return { type: "sort", by: "cpu" };
      case "m":
        return { type: "sort", by: "mem" };
      case "j":
        return { type: "scroll", lines: 1 };
      case "k":
        return { type: "scroll", lines: -1 };
      case " ":
        return { type: "scroll", lines: pageLines };
      case "g":
        return { type: "scroll-to", where: "top" };
      case "G":
        return { type: "scroll-to", where: "bottom" };
      case "q":
      case "Q":
        return { type: "quit" };
    }
    return undefined;
  }
  switch (key) {
    case "f1":
      return { type: "screen", screen: "summary" };
    case "f2":
      return { type: "screen", screen: "monitor" };
    case "f3":
      return { type: "screen", screen: "config" };
    case "tab":
      return { type: "next-screen" };
    case "up":
      return { type: "scroll", lines: -1 };
    case "down":
      return { type: "scroll", lines: 1 };
    case "pgup":
      return { type: "scroll", lines: -pageLines };
    case "pgdn":
      return { type: "scroll", lines: pageLines };
    case "home":
      return { type: "scroll-to", where: "top" };
    case "end":
      return { type: "scroll-to", where: "bottom" };
    case "ctrl-c":
      return { type: "quit" };
    case "esc":
      return undefined;
  }
}
