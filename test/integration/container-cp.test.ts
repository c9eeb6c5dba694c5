import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/hull.js';

let d: TestDaemon;
let tmp: string;
beforeAll(async () => {
  d = await TestDaemon.start();
  tmp = await mkdtemp('/tmp/hull-cp-');
});
afterAll(async () => {
  await d?.destroy();
  await rm(tmp, { recursive: true, force: true });
});

describe('hull cp', () => {
  it('a container swapping a directory for a symlink to a host path gets no copy onto or out of the host', async () => {
    // A directory that exists only on the host: the link the container makes points at it.
    const host = await mkdtemp('/tmp/hull-cp-race-host-');
    await writeFile(join(host, 'probe'), 'HOST\n');
    const swap = `mkdir -p /w/d/sub && echo CONTAINER > /w/d/probe && while true; do mv /w/d /w/d.real; ln -s ${host} /w/d; rm /w/d; mv /w/d.real /w/d; usleep 2000; done`;
    await d.ok(['run', '-d', '--name', 'racer', 'busybox', 'sh', '-c', swap]);
    const up = join(tmp, 'race-up');
    await mkdir(up);
    for (let i = 0; i < 20; i++) await writeFile(join(up, `race-marker-${i}`), 'x');
    let wrote = 0;
    let read = 0;
    const reads: string[] = [];
    // A few seconds of copies both ways, and on until some went through each way (at most 30 s).
    const start = Date.now();
    const going = async () => {
      const t = Date.now() - start;
      const enough = t > 3000 && wrote >= 3 && read >= 3;
      return !enough && t < 30_000 && (await readdir(host)).length === 1;
    };
    const writer = async () => {
      while (await going()) {
        if ((await d.hull(['cp', up, 'racer:/w/d/sub/'])).code === 0) wrote++;
      }
    };
    const reader = async (n: number) => {
      for (let i = 0; await going(); i++) {
        const out = join(tmp, `race-out-${n}-${i}`);
        if ((await d.hull(['cp', 'racer:/w/d/probe', out])).code !== 0) continue;
        read++;
        reads.push(await readFile(out, 'utf8').catch(() => 'MISSING'));
      }
    };
    try {
      await Promise.all([writer(), reader(0), reader(1)]);
      expect(await readdir(host)).toEqual(['probe']);
      expect(reads.filter((r) => r !== 'CONTAINER\n')).toEqual([]);
      // The race ran: copies went through both ways while the link was swapped.
      expect(wrote).toBeGreaterThan(0);
      expect(read).toBeGreaterThan(0);
    } finally {
      await d.hull(['rm', '-f', 'racer']);
      await rm(host, { recursive: true, force: true });
    }
  });
});
