import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MuxDecoder, muxFrame, writeHttpError } from './streams.js';

function decodeAll(chunks: Buffer[]): Array<[number, string]> {
  const frames: Array<[number, string]> = [];
  const d = new MuxDecoder((stream, data) => frames.push([stream, data.toString()]));
  for (const c of chunks) d.push(c);
  return frames;
}

/** Cut a buffer into pieces at the given offsets. */
function cut(buf: Buffer, at: number[]): Buffer[] {
  const edges = [0, ...at, buf.length];
  return edges.slice(1).map((end, i) => buf.subarray(edges[i], end));
}

describe('muxFrame', () => {
  it('writes Docker\'s 8-byte header: stream, three zeros, big-endian size', () => {
    const f = muxFrame(2, Buffer.from('hello'));
    expect([...f.subarray(0, 8)]).toEqual([2, 0, 0, 0, 0, 0, 0, 5]);
    expect(f.subarray(8).toString()).toBe('hello');
    expect([...muxFrame(1, Buffer.alloc(0x10203))].slice(0, 8)).toEqual([1, 0, 0, 0, 0, 1, 2, 3]);
  });
});

describe('MuxDecoder', () => {
  const frames: Array<[1 | 2, string]> = [
    [1, 'out one\n'],
    [2, 'err ✓\n'],
    [1, ''],
    [1, 'x'.repeat(70_000)],
    [2, 'last'],
  ];
  const wire = Buffer.concat(frames.map(([s, d]) => muxFrame(s, Buffer.from(d))));

  it('round-trips frames sent in one chunk', () => {
    expect(decodeAll([wire])).toEqual(frames);
  });

  it('round-trips frames split at every byte', () => {
    const bytes = Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
    expect(decodeAll(cut(wire, bytes))).toEqual(frames);
  });

  it('round-trips frames split inside headers and inside data', () => {
    const sizes = frames.map(([, d]) => 8 + Buffer.byteLength(d));
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    for (const within of [1, 4, 7, 8, 9, 12]) {
      const at = starts.map((s) => s + within).filter((x) => x > 0 && x < wire.length);
      expect(decodeAll(cut(wire, at)), `cut ${within} bytes into each frame`).toEqual(frames);
    }
  });

  it('round-trips frames split at random places', () => {
    for (let round = 0; round < 50; round++) {
      const at = Array.from({ length: 1 + Math.floor(Math.random() * 20) }, () => 1 + Math.floor(Math.random() * (wire.length - 1)));
      const sorted = [...new Set(at)].sort((a, b) => a - b);
      expect(decodeAll(cut(wire, sorted)), `cut at ${sorted.join(',')}`).toEqual(frames);
    }
  });

  it('holds a frame back until all of it has arrived', () => {
    const seen: string[] = [];
    const d = new MuxDecoder((_s, data) => seen.push(data.toString()));
    const f = muxFrame(1, Buffer.from('abcdef'));
    d.push(f.subarray(0, 5));
    d.push(f.subarray(5, 13));
    expect(seen).toEqual([]);
    d.push(f.subarray(13));
    expect(seen).toEqual(['abcdef']);
  });
});

describe('writeHttpError', () => {
  it('answers a refused upgrade as plain HTTP with the Error body, and closes', async () => {
    const sock = new PassThrough();
    let text = '';
    sock.on('data', (b: Buffer) => (text += b.toString()));
    const ended = new Promise((r) => sock.on('end', r));
    writeHttpError(sock, 404, { code: 'not_found', message: 'container "wéb" not found' });
    await ended;
    const [head, body] = text.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
    expect(head).toContain('Content-Type: application/json');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toEqual({ code: 'not_found', message: 'container "wéb" not found' });
  });
});
