/**
 * Events as docker's Engine API sends them (GET /events): what happened
 * (`Type`, `Action`), to what (`Actor.ID`, `Actor.Attributes`), and when.
 * The engine, the image service and the network manager publish into one
 * EventLog; it keeps the last ones (for `--since`) and hands each new one to
 * its subscribers (a `hull events` stream).
 *
 *   const log = new EventLog();
 *   const off = log.subscribe((ev) => …);
 *   log.publish('container', 'start', id, { name: 'web', image: 'busybox' });
 *   log.replay({ sinceMs: Date.now() - 600_000 });   // the last ten minutes
 *
 * Types are open: Hull has container, vm, image and network; services and
 * volumes come later with the same machinery.
 */
export type EventType = 'container' | 'vm' | 'image' | 'network' | (string & {});

export interface EventMessage {
  /** docker's older fields, kept for container and image events: the action, the actor's id, the image. */
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Unix seconds. */
  time: number;
  /** Unix nanoseconds (to the millisecond: Hull's clock). */
  timeNano: number;
}

/** Where events are published: the EventLog, or nothing (unit tests of a publisher). */
export interface EventSink {
  publish(type: EventType, action: string, actorId: string, attributes?: Record<string, string>): EventMessage;
}

/** docker keeps 256 events; Hull a few more, since a busy host makes many: the last 1024. */
export const EVENT_LOG_SIZE = 1024;

export class EventLog implements EventSink {
  private ring: EventMessage[] = [];
  private subscribers = new Set<(ev: EventMessage) => void>();

  constructor(private readonly size = EVENT_LOG_SIZE) {}

  publish(type: EventType, action: string, actorId: string, attributes: Record<string, string> = {}): EventMessage {
    const ms = Date.now();
    // docker's order, its older fields first where it still sends them.
    const old = type === 'container' || type === 'vm' || type === 'image' ? { status: action, id: actorId, ...(attributes.image ? { from: attributes.image } : {}) } : {};
    const ev: EventMessage = { ...old, Type: type, Action: action, Actor: { ID: actorId, Attributes: attributes }, scope: 'local', time: Math.floor(ms / 1000), timeNano: ms * 1_000_000 };
    this.ring.push(ev);
    if (this.ring.length > this.size) this.ring.splice(0, this.ring.length - this.size);
    for (const fn of this.subscribers) {
      try {
        fn(ev);
      } catch {
        // a subscriber that fails (a closed stream) must not stop the others or the publisher
      }
    }
    return ev;
  }

  /** Past events at or after `sinceMs` and at or before `untilMs`, oldest first. */
  replay(o: { sinceMs: number; untilMs?: number }): EventMessage[] {
    return this.ring.filter((e) => e.timeNano / 1e6 >= o.sinceMs && (o.untilMs === undefined || e.timeNano / 1e6 <= o.untilMs));
  }

  subscribe(fn: (ev: EventMessage) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}
