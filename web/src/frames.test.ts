import { describe, expect, it } from 'vitest';
import { FrameDecoder, stripAnsi } from './frames.js';

const frame = (stream: number, text: string): Uint8Array => {
  const data = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + data.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, data.length, false);
  out.set(data, 8);
  return out;
};
const text = (d: Uint8Array): string => new TextDecoder().decode(d);
const join = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('FrameDecoder', () => {
  it('decodes several frames in one chunk, keeping stdout and stderr apart', () => {
    const frames = new FrameDecoder().push(join(frame(1, 'out\n'), frame(2, 'err\n'), frame(1, '')));
    expect(frames.map((f) => [f.stream, text(f.data)])).toEqual([[1, 'out\n'], [2, 'err\n'], [1, '']]);
  });

  it('waits for frames cut at every possible byte, header included', () => {
    const all = join(frame(1, 'hello'), frame(2, 'world, a longer one'));
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder();
      const got = [...d.push(all.slice(0, cut)), ...d.push(all.slice(cut))];
      expect(got.map((f) => text(f.data))).toEqual(['hello', 'world, a longer one']);
      expect(d.pending).toBe(0);
    }
  });

  it('reads the size as big-endian uint32 (frames over 64 KiB)', () => {
    const big = 'x'.repeat(70_000);
    const d = new FrameDecoder();
    expect(d.push(frame(1, big).slice(0, 100))).toEqual([]);
    expect(d.pending).toBe(100);
    const [f] = d.push(frame(1, big).slice(100));
    expect(f.data.length).toBe(70_000);
  });
});

describe('stripAnsi', () => {
  it('removes colours, cursor queries and titles, keeps the text', () => {
    expect(stripAnsi('\x1b[1;32mgreen\x1b[0m / # \x1b[6n\x1b]0;title\x07done')).toBe('green / # done');
  });
});
