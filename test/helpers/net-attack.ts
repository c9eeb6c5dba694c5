import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/sys/run.js';
import { REPO } from './hull.js';

let built: Promise<string> | undefined;

/** net-attack.c built static (gcc and libc6-dev, from scripts/setup.sh's test packages), once per test file. */
export function netAttack(): Promise<string> {
  built ??= (async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'hull-net-attack-')), 'net-attack');
    await run(['gcc', '-static', '-Os', '-s', '-o', out, join(REPO, 'test', 'helpers', 'net-attack.c')], { timeoutMs: 60_000 });
    return out;
  })();
  return built;
}
