import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { MuxDecoder } from '../api/streams.js';
import type { Client } from '../cli/client.js';
import { sleep } from '../core/poll.js';

/** What a browser asked for: a new shell in the instance (exec) or the instance's own console (attach). */
export interface ConsoleRequest {
  kind: 'exec' | 'attach';
  ref: string;
  rows: number;
  cols: number;
  cmd: string[];
}

/** The most output a slow browser may leave unread before the instance's stream waits for it. */
const HIGH_WATER = 1024 * 1024;

/**
 * A terminal in the browser, over a WebSocket: binary frames are the
 * terminal's bytes both ways, a text frame from the browser is
 * `{"resize":[rows, cols]}`, and the server's only text frame is
 * `{"error":"…"}` before it closes. The other end is the API's own upgrade
 * (exec start or attach), so the dashboard can do nothing the API would not.
 * Output keeps the browser's pace (the stream is paused while more than
 * HIGH_WATER is unsent); a closed tab ends the stream, an ended stream closes
 * the socket with a reason ("exited 0", "ended").
 */
export async function bridgeConsole(client: Client, ws: WebSocket, r: ConsoleRequest): Promise<void> {
  // What the browser sends while the session is being set up (its first keys, its size) waits for it.
  const early: Message[] = [];
  let held = 0;
  const hold = (data: RawData, isBinary: boolean) => {
    held += Buffer.isBuffer(data) ? data.length : 0;
    if (held > HIGH_WATER) ws.close(1009, 'too much input before the console was ready');
    else early.push([data, isBinary]);
  };
  ws.on('message', hold);
  let session: Session;
  try {
    session = r.kind === 'exec' ? await openExec(client, r) : await openAttach(client, r);
  } catch (e) {
    fail(ws, e);
    return;
  }
  if (ws.readyState !== ws.OPEN) {
    session.socket.destroy();
    return;
  }
  const onMessage = pipe(ws, session);
  // In order: a size sent before the first keys is the terminal's before they run.
  while (early.length) await onMessage(...(early.shift() as Message));
  ws.off('message', hold);
  ws.on('message', (data: RawData, isBinary: boolean) => void onMessage(data, isBinary));
}

type Message = [RawData, boolean];

interface Session {
  socket: Duplex;
  /** Output as the terminal shows it (non-terminal output is demultiplexed, and its lone \n become \r\n). */
  output: (onBytes: (b: Buffer) => void) => (b: Buffer) => void;
  resize?: (rows: number, cols: number) => Promise<unknown>;
  /** The browser's keys go to the program (a terminal's console, a shell); otherwise they are dropped. */
  input: boolean;
  ended: () => Promise<string>;
}

async function openExec(client: Client, r: ConsoleRequest): Promise<Session> {
  const consoleSize = r.rows > 0 && r.cols > 0 ? { consoleSize: { rows: r.rows, cols: r.cols } } : {};
  const { id } = await client.call<{ id: string }>('POST', `/v1/containers/${encodeURIComponent(r.ref)}/exec`, { cmd: r.cmd, tty: true, stdin: true, ...consoleSize });
  const socket = await client.upgrade(`/v1/exec/${id}/start`);
  return {
    socket,
    output: (onBytes) => onBytes,
    input: true,
    resize: (rows, cols) => client.call('POST', `/v1/exec/${id}/resize?h=${rows}&w=${cols}`),
    ended: async () => {
      // The code is recorded a moment after the stream ends.
      for (let i = 0; i < 20; i++) {
        const e = await client.call<{ exitCode?: number | null }>('GET', `/v1/exec/${id}`).catch(() => undefined);
        if (typeof e?.exitCode === 'number') return `exited ${e.exitCode}`;
        if (!e) break;
        await sleep(100);
      }
      return 'ended';
    },
  };
}

async function openAttach(client: Client, r: ConsoleRequest): Promise<Session> {
  const inst = await client.call<{ id: string; config?: { tty?: boolean } }>('GET', `/v1/containers/${encodeURIComponent(r.ref)}`);
  const tty = !!inst.config?.tty;
  // Without a terminal the console only shows output: a tab that closes would otherwise end the program's input (as the API's attach does).
  const socket = await client.upgrade(`/v1/containers/${inst.id}/attach?stdin=${tty ? 1 : 0}`);
  const resize = (rows: number, cols: number) => client.call('POST', `/v1/containers/${inst.id}/resize?h=${rows}&w=${cols}`);
  if (tty && r.rows > 0 && r.cols > 0) await resize(r.rows, r.cols).catch(() => undefined);
  return {
    socket,
    output: tty ? (onBytes) => onBytes : demux,
    resize: tty ? resize : undefined,
    input: tty,
    ended: async () => 'ended',
  };
}

function demux(onBytes: (b: Buffer) => void): (b: Buffer) => void {
  const dec = new MuxDecoder((_stream, data) => onBytes(Buffer.from(data.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')));
  return (b) => dec.push(b);
}

/** Relays the output, and returns what takes the browser's messages (keys, resizes; done once a resize is). */
function pipe(ws: WebSocket, s: Session): (data: RawData, isBinary: boolean) => Promise<void> {
  const { socket } = s;
  const send = s.output((b) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(b, { binary: true }, () => {
      if (socket.isPaused() && ws.bufferedAmount < HIGH_WATER / 4) socket.resume();
    });
    if (ws.bufferedAmount > HIGH_WATER) socket.pause();
  });
  socket.on('data', send);
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    void s.ended().then((why) => ws.readyState === ws.OPEN && ws.close(1000, why.slice(0, 100)));
  });
  const onMessage = async (data: RawData, isBinary: boolean) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      if (s.input && !socket.write(buf)) ws.pause();
      return;
    }
    const size = parseResize(buf.toString());
    if (size && s.resize) await s.resize(size[0], size[1]).catch(() => undefined);
  };
  socket.on('drain', () => ws.resume());
  ws.on('close', () => socket.destroy());
  ws.on('error', () => socket.destroy());
  return onMessage;
}

/** `{"resize":[rows, cols]}`, each 1..1000; anything else is ignored. */
export function parseResize(text: string): [number, number] | undefined {
  try {
    const v = (JSON.parse(text) as { resize?: unknown }).resize;
    if (!Array.isArray(v) || v.length !== 2) return undefined;
    const [rows, cols] = v.map(Number);
    const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 1000;
    return ok(rows) && ok(cols) ? [rows, cols] : undefined;
  } catch {
    return undefined;
  }
}

function fail(ws: WebSocket, e: unknown): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(JSON.stringify({ error: (e as Error).message }));
  ws.close(1011, 'failed');
}
