import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resizeTerminal } from './attach.js';

let dir = '';
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('resizeTerminal', () => {
  it('fails at once with a state error when conmon has gone (no reader on the ctl fifo), instead of waiting in open()', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hull-ctl-'));
    execFileSync('mkfifo', [join(dir, 'ctl')]);
    const t0 = Date.now();
    // Several at once: blocked opens would each hold a libuv pool thread, and the timeout below would never be reached.
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => resizeTerminal(dir, 30, 100)));
    expect(Date.now() - t0).toBeLessThan(2000);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'wrong_state' });
    }
  }, 5000);

  it('writes "1 ROWS COLS" to the fifo while it has a reader, bounded to 0..1000', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hull-ctl-'));
    const ctl = join(dir, 'ctl');
    execFileSync('mkfifo', [ctl]);
    const fd = openSync(ctl, constants.O_RDONLY | constants.O_NONBLOCK); // a reader, as conmon holds one
    try {
      await resizeTerminal(dir, 30.7, 5000);
      const buf = Buffer.alloc(64);
      expect(buf.subarray(0, readSync(fd, buf)).toString()).toBe('1 30 1000\n');
    } finally {
      closeSync(fd);
    }
  });

  it('refuses a ctl that is not a fifo', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hull-ctl-'));
    execFileSync('touch', [join(dir, 'ctl')]);
    await expect(resizeTerminal(dir, 1, 1)).rejects.toMatchObject({ code: 'wrong_state' });
  });
});
