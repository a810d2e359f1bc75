// A bounded in-memory log: the newest `capacity` lines of one source (a
// service's stdout/stderr, init's own log), with live followers.

export type Unsubscribe = () => void;

export class LogRing {
  private lines: string[] = [];
  private start = 0; // index of the oldest line once the ring is full
  private followers = new Set<(line: string) => void>();

  constructor(readonly capacity = 5000) {}

  push(line: string): void {
    if (this.lines.length < this.capacity) this.lines.push(line);
    else {
      this.lines[this.start] = line;
      this.start = (this.start + 1) % this.capacity;
    }
    for (const f of this.followers) {
      try {
        f(line);
      } catch {
        // A broken follower (a client gone away) must not stop logging.
      }
    }
  }

  /** The newest `n` lines (all when n is undefined or negative), oldest first. */
  tail(n?: number): string[] {
    const ordered = this.start === 0 ? this.lines.slice() : [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)];
    return n === undefined || n < 0 ? ordered : ordered.slice(Math.max(0, ordered.length - n));
  }

  follow(fn: (line: string) => void): Unsubscribe {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }

  get followerCount(): number {
    return this.followers.size;
  }
}
