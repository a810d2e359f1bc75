// The node's event stream (Talos: machine.Events): services changing state,
// sequences and phases starting and stopping, config changes. A bounded history
// plus live subscribers, as the machine API's Events call needs.
import type { NewEvent, NodeEvent } from "../node/events.ts";
import type { Unsubscribe } from "../lib/ring.ts";

export type { NewEvent };

export class EventBus {
  private history: NodeEvent[] = [];
  private subscribers = new Set<(e: NodeEvent) => void>();
  private seq = 0;

  constructor(private readonly capacity = 2000) {}

  emit(e: NewEvent): NodeEvent {
    // Sortable ids: a timestamp plus a counter, unique for the node's lifetime.
    const ev = { ...e, id: `${Date.now().toString(36)}-${(this.seq++).toString(36)}`, ts: new Date() } as NodeEvent;
    this.history.push(ev);
    if (this.history.length > this.capacity) this.history.splice(0, this.history.length - this.capacity);
    for (const s of this.subscribers) {
      try {
        s(ev);
      } catch {
        // a subscriber gone bad (a dropped API stream) must not stop the others
      }
    }
    return ev;
  }

  all(): NodeEvent[] {
    return this.history.slice();
  }

  subscribe(fn: (e: NodeEvent) => void): Unsubscribe {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}
