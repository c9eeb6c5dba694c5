import { EventLog } from '../../core/events.js';
import type { Engine, EngineEvent } from '../../engine/engine.js';

/**
 * The events the Docker socket serves, in docker's shape (core/events.ts).
 * The engine reports bare lifecycle events; this fills a log of docker's
 * messages from them, with the attributes docker gives (name, image, the
 * labels, exitCode on die), in the order they happened. Events of the
 * Docker room's own making (exec, attach, images, networks) are published
 * into the same log by the routes.
 */
export class DockerEvents {
  readonly log = new EventLog();
  private attrs = new Map<string, Record<string, string>>();
  private chain: Promise<void> = Promise.resolve();
  private readonly on = (ev: EngineEvent) => {
    this.chain = this.chain.then(() => this.publish(ev)).catch(() => undefined);
  };

  constructor(private engine: Engine) {
    engine.events.on('event', this.on);
  }

  close(): void {
    this.engine.events.off('event', this.on);
  }

  /** An event about an instance, with its attributes (known from an earlier event once it is gone). */
  async instance(id: string, action: string, extra: Record<string, string> = {}): Promise<void> {
    const base = await this.attributes(id);
    this.log.publish('container', action, id, { ...base, ...extra });
  }

  /** A network's event: create, destroy, connect, disconnect (with the container). */
  async network(n: { id: string; name: string }, action: string, extra: Record<string, string> = {}): Promise<void> {
    this.log.publish('network', action, n.id, { name: n.name, type: 'bridge', ...extra });
  }

  /** An image's event: pull, push, tag, untag, delete, load. */
  image(id: string, action: string, name: string): void {
    this.log.publish('image', action, id, { name });
  }

  private async publish(ev: EngineEvent): Promise<void> {
    const extra: Record<string, string> = ev.type === 'die' ? { exitCode: String(ev.exitCode ?? 0) } : {};
    await this.instance(ev.id, ev.type, { name: ev.name, ...extra });
    if (ev.type === 'destroy') this.attrs.delete(ev.id);
  }

  private async attributes(id: string): Promise<Record<string, string>> {
    const known = this.attrs.get(id);
    if (known) return known;
    const inst = await this.engine.get(id).catch(() => undefined);
    if (!inst) return {};
    const a = { ...inst.config.labels, image: inst.config.image, name: inst.name };
    this.attrs.set(id, a);
    return a;
  }
}
