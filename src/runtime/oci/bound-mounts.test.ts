import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { boundMounts } from './bound-mounts.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('boundMounts', () => {
  it('gives the container-specific bind mounts whose source is there, not the ones every container gets', async () => {
    const bundle = await mkdtemp(join(tmpdir(), 'hull-bundle-'));
    dirs.push(bundle);
    await writeFile(join(bundle, 'hosts'), '');
    await writeFile(join(bundle, 'ro'), '');
    const mounts = [
      { destination: '/proc', type: 'proc', source: 'proc', options: [] },
      { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'ro'] },
      { destination: '/etc/hosts', type: 'bind', source: join(bundle, 'hosts'), options: ['rbind', 'rprivate'] },
      { destination: '/etc/ro', type: 'bind', source: join(bundle, 'ro'), options: ['rbind', 'ro'] },
      { destination: '/etc/gone', type: 'bind', source: join(bundle, 'gone'), options: ['rbind'] },
    ];
    await writeFile(join(bundle, 'config.json'), JSON.stringify({ mounts }));
    expect(await boundMounts(bundle)).toEqual([
      { destination: '/etc/hosts', source: join(bundle, 'hosts'), readonly: false },
      { destination: '/etc/ro', source: join(bundle, 'ro'), readonly: true },
    ]);
  });

  it('has none before the first start (no config.json)', async () => {
    const bundle = await mkdtemp(join(tmpdir(), 'hull-bundle-'));
    dirs.push(bundle);
    expect(await boundMounts(bundle)).toEqual([]);
  });
});
