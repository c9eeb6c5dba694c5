import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from '../helpers/hull.js';
import { run } from '../../src/sys/run.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.destroy();
});

const state = (name: string, field: string) => d.state(name, field);

/** Everything on the machine matches the records: no orphan dirs, mounts or runtime state. */
async function assertConsistent(): Promise<void> {
  const list = JSON.parse(await d.ok(['ps', '-a', '--format', 'json'])) as Array<{ id: string; status: string }>;
  const ids = new Set(list.map((c) => c.id));
  const dirs = await readdir(join(d.root, 'containers'));
  expect(dirs.filter((x) => !ids.has(x))).toEqual([]);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p?.startsWith(join(d.root, 'containers')));
  const live = new Set(list.filter((c) => c.status === 'running' || c.status === 'paused' || c.status === 'created').map((c) => c.id));
  for (const m of mounts) expect(live.has(m.split('/')[m.split('/').indexOf('containers') + 1])).toBe(true);
  for (const rt of ['crun', 'runc']) {
    const r = await run([rt, '--root', join(d.root, 'runtime', rt), 'list', '-q'], { allowFailure: true });
    for (const id of r.stdout.split('\n').filter(Boolean)) expect(ids.has(id)).toBe(true);
  }
}

describe('the daemon can die at any moment', () => {
  it('SIGKILL and restart: running containers stay manageable, exits that happened meanwhile are recorded, restart policy honoured', async () => {
    await d.ok(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done']);
    await d.ok(['run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'sleep 1; exit 3']);
    await d.ok(['run', '-d', '--name', 'keeper', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 1; exit 1']);
    await d.crash();
    await new Promise((r) => setTimeout(r, 2000)); // `short` and `keeper` exit while no daemon runs
    await d.spawn();

    expect(await state('web', 'Status')).toBe('running');
    expect(await d.ok(['logs', '--tail', '1', 'web'])).toMatch(/tick \d+/);
    expect((await d.ok(['exec', 'web', 'echo', 'still here'])).trim()).toBe('still here');
    await waitFor(async () => (await state('short', 'Status')) === 'exited');
    expect(await state('short', 'ExitCode')).toBe('3');
    await waitFor(async () => Number(await state('keeper', 'RestartCount')) >= 1, 15_000);

    await d.ok(['stop', '-t', '1', 'web']);
    expect(await state('web', 'Status')).toBe('exited');
    await d.ok(['rm', '-f', 'web', 'short', 'keeper']);
    await assertConsistent();
  });

  it('a daemon killed in the middle of creates and starts leaves nothing half-made', async () => {
    for (const delayMs of [20, 60, 120, 200, 350]) {
      const runs = Array.from({ length: 4 }, (_, i) => d.hull(['run', '-d', '--name', `k${delayMs}-${i}`, 'busybox', 'sleep', '300']));
      await new Promise((r) => setTimeout(r, delayMs));
      await d.crash();
      await Promise.all(runs);
      await d.spawn();
      await assertConsistent();
      // Whatever survived is usable: running ones can be stopped, all can be removed.
      const list = JSON.parse(await d.ok(['ps', '-a', '--format', 'json'])) as Array<{ name: string; status: string }>;
      for (const c of list) expect(['created', 'running', 'exited']).toContain(c.status);
      if (list.length) await d.ok(['rm', '-f', ...list.map((c) => c.name)]);
      await assertConsistent();
    }
  });
});
