import { Readable } from 'node:stream';
import type { Instance } from '../../core/instance.js';
import type { Engine } from '../../engine/engine.js';
import type { LogRecord } from '../../runtime/oci/logs.js';
import { muxFrame } from '../streams.js';

/**
 * A follow's end: the instance exits, or the client goes. The exit is
 * listened for before the instance's state is read again, so an exit in
 * between is not missed.
 */
export async function followUntilExit(engine: Engine, inst: Instance, onClientGone: (f: () => void) => void): Promise<AbortController> {
  const ac = new AbortController();
  const end = () => ac.abort();
  engine.events.once(`exit:${inst.id}`, end);
  ac.signal.addEventListener('abort', () => engine.events.off(`exit:${inst.id}`, end));
  onClientGone(end);
  const now = await engine.get(inst.id).catch(() => undefined);
  if (!now || !isLive(now)) end();
  return ac;
}

export const isLive = (i: Instance) => i.state.status === 'running' || i.state.status === 'paused' || i.state.status === 'created';

/**
 * A stream of what `gen` yields, after its first item has been read: a log
 * that cannot be read fails the request with an error, not an empty 200.
 * A failure later on breaks the response off (the client sees it cut).
 */
export async function startedStream<T>(gen: AsyncGenerator<T>, encode: (item: T) => Buffer | undefined): Promise<Readable> {
  const first = await gen.next();
  async function* all() {
    try {
      if (first.done) return;
      const b = encode(first.value);
      if (b) yield b;
      for await (const item of gen) {
        const out = encode(item);
        if (out) yield out;
      }
    } finally {
      await gen.return(undefined);
    }
  }
  return Readable.from(all(), { objectMode: false });
}

/** A batch of records as the client reads them: one frame per run of one stream (no terminal), else the bytes. */
export function recordEncoder(o: { tty: boolean; timestamps: boolean; stdout: boolean; stderr: boolean }): (rs: LogRecord[]) => Buffer | undefined {
  return (rs) => {
    const parts: Buffer[] = [];
    let run: string[] = [];
    let stream: LogRecord['stream'] | undefined;
    const flush = () => {
      if (!run.length) return;
      const data = Buffer.from(run.join(''));
      parts.push(o.tty ? data : muxFrame(stream === 'stderr' ? 2 : 1, data));
      run = [];
    };
    for (const r of rs) {
      if ((r.stream === 'stdout' && !o.stdout) || (r.stream === 'stderr' && !o.stderr)) continue;
      if (r.stream !== stream) flush();
      stream = r.stream;
      run.push(o.timestamps ? `${r.time} ${r.data}` : r.data);
    }
    flush();
    return parts.length ? Buffer.concat(parts) : undefined;
  };
}
