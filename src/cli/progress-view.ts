import type { IncomingMessage } from 'node:http';
import { ApiError } from './client.js';

/** A progress event as the pull/push stream sends it (see src/image/registry/progress.ts). */
export interface StreamEvent {
  type: 'status' | 'layer' | 'result' | 'error';
  message?: string;
  id?: string;
  status?: string;
  current?: number;
  total?: number;
  detail?: string;
  code?: string;
  [k: string]: unknown;
}

const BAR = 50;

/** docker's size style: 12.5MB (decimal units). */
export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

/**
 * Pull/push progress the way docker shows it. On a terminal, one line per
 * layer, redrawn in place with a bar while bytes move; elsewhere (a pipe,
 * a log) one plain line per change of a layer's status, never per byte.
 */
export class ProgressView {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, StreamEvent>();
  private drawn = 0;
  private frozen = false;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly tty = Boolean(process.stdout.isTTY),
  ) {}

  handle(ev: StreamEvent): void {
    if (ev.type === 'status') return this.status(ev.message ?? '');
    if (ev.type !== 'layer' || !ev.id) return;
    const prev = this.lines.get(ev.id);
    if (!prev) this.order.push(ev.id);
    this.lines.set(ev.id, ev);
    if (this.tty && !this.frozen) this.redraw();
    else if (!this.tty && prev?.status !== ev.status) this.out.write(`${this.text(ev)}\n`);
  }

  private status(message: string): void {
    // Messages after the layers (Digest:, Status:) go below them; the layer block stops moving.
    if (this.drawn > 0) this.frozen = true;
    this.out.write(`${message}\n`);
  }

  private redraw(): void {
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const id of this.order) s += `\x1b[2K${this.text(this.lines.get(id)!, true)}\n`;
    this.drawn = this.order.length;
    this.out.write(s);
  }

  private text(ev: StreamEvent, bar = false): string {
    let s = `${ev.id}: ${ev.status}${ev.detail ? ` ${ev.detail}` : ''}`;
    const moving = ev.status === 'Downloading' || ev.status === 'Pushing' || ev.status === 'Uploading';
    if (moving && ev.total) {
      const cur = ev.current ?? 0;
      if (bar) {
        const filled = Math.min(BAR, Math.floor((cur / ev.total) * BAR));
        s += ` [${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(BAR - filled)}]`;
      }
      s += ` ${humanBytes(cur)}/${humanBytes(ev.total)}`;
    }
    return s;
  }
}

/**
 * Read a newline-delimited JSON event stream to its end, passing each event
 * on, and return the final `result` event; an `error` event throws.
 */
export async function readEvents(res: IncomingMessage, on: (e: StreamEvent) => void): Promise<StreamEvent> {
  let buf = '';
  let result: StreamEvent | undefined;
  const take = (line: string) => {
    if (!line.trim()) return;
    const ev = JSON.parse(line) as StreamEvent;
    if (ev.type === 'error') throw new ApiError(500, ev.code ?? 'internal', ev.message ?? 'failed');
    if (ev.type === 'result') result = ev;
    else on(ev);
  };
  for await (const chunk of res) {
    buf += (chunk as Buffer).toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      take(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  take(buf);
  if (!result) throw new ApiError(500, 'internal', 'the daemon ended the stream without a result');
  return result;
}
