// /proc/self/mountinfo's text form, shared by init (what to unmount) and the
// API (Mounts).

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
