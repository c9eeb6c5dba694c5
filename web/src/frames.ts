/**
 * Decodes docker's multiplexed stream (application/vnd.docker.multiplexed-stream):
 * each frame is an 8-byte header [stream, 0, 0, 0, size as uint32 big-endian]
 * then `size` bytes; stream 1 is stdout, 2 stderr. Frames and headers may be
 * cut anywhere by the transport, so partial ones wait for the next chunk.
 * Pure, so it is unit-tested.
 */
export interface Frame {
  stream: number;
  data: Uint8Array;
}

const HEADER = 8;

export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): Frame[] {
    this.buf = concat(this.buf, chunk);
    const frames: Frame[] = [];
    let at = 0;
    while (this.buf.length - at >= HEADER) {
      const size = new DataView(this.buf.buffer, this.buf.byteOffset + at + 4, 4).getUint32(0, false);
      if (this.buf.length - at - HEADER < size) break;
      frames.push({ stream: this.buf[at], data: this.buf.slice(at + HEADER, at + HEADER + size) });
      at += HEADER + size;
    }
    this.buf = this.buf.slice(at);
    return frames;
  }

  /** Bytes of an unfinished frame (non-zero at the end of a stream means it was cut off). */
  get pending(): number {
    return this.buf.length;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Remove terminal escape sequences (colours, cursor moves) from text shown as plain text. */
export const stripAnsi = (text: string): string =>
  // CSI sequences, OSC sequences (ended by BEL or ST), and lone two-byte escapes.
  text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g, '');
