import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon } from '../helpers/hull.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.destroy();
});

/** Run the CLI under a real pseudo-terminal (util-linux `script`), typing `input`. */
function underTty(args: string[], input: string, cols = 100, rows = 30): Promise<{ code: number; out: string }> {
  const cmd = [process.execPath, join(REPO, 'bin/hull'), '-H', `unix://${d.socket}`, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const p = spawn('script', ['-q', '-e', '-c', `stty cols ${cols} rows ${rows}; ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    setTimeout(() => p.stdin.write(input), 1000);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('streams: stdin, terminals, logs', () => {
  it('run -i passes stdin and its end', async () => {
    const r = await d.hull(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'wc -l; echo done'], { input: 'a\nb\nc\n' });
    expect(r.stdout).toBe('3\ndone\n');
    expect(r.code).toBe(0);
  });

  it('run -it gives a real terminal with the caller window size, and its exit code', async () => {
    const r = await underTty(['run', '-it', '--rm', 'busybox', 'sh'], 'tty; stty size; exit 4\n', 111, 33);
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.out).toMatch(/33 111/);
    expect(r.code).toBe(4);
  });

  it('exec -it runs in a terminal; exec -i takes stdin', async () => {
    await d.ok(['run', '-d', '--name', 'io', 'busybox', 'sleep', '300']);
    const r = await underTty(['exec', '-it', 'io', 'sh'], 'tty; exit 6\n');
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(6);
    // The terminal has the caller's size from the start: a command that reads it at once sees it (not 0 0).
    // runc sets it before the command runs; crun 1.8 sets it beside the command's start (docs/docker-api.md), so runc here.
    await d.ok(['run', '-d', '--runtime', 'runc', '--name', 'io-runc', 'busybox', 'sleep', '300']);
    for (let i = 0; i < 3; i++) expect((await underTty(['exec', '-it', 'io-runc', 'stty', 'size'], '', 111, 33)).out).toMatch(/^33 111\r?$/m);
    await d.ok(['rm', '-f', 'io-runc']);
    const i = await d.hull(['exec', '-i', 'io', 'sh', '-c', 'cat > /tmp/in; wc -c < /tmp/in'], { input: 'hello' });
    expect(i.stdout.trim()).toBe('5');
  });

  it('logs -f follows until the container exits', async () => {
    await d.ok(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.3; done; echo bye >&2']);
    const r = await d.hull(['logs', '-f', 'talker'], { timeoutMs: 15_000 });
    expect(r.stdout).toBe('line 1\nline 2\nline 3\n');
    expect(r.stderr).toBe('bye\n');
    const ts = await d.ok(['logs', '-t', '--tail', '2', 'talker']); // the last record is "bye" on stderr
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\S+ line 3\n$/);
    await d.ok(['rm', 'talker']);
  });
});
