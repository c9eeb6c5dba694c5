import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * Every byte in, in order, through the real CLI and conmon's attach socket:
 * stdin of 0, 1, 32 KiB ± 1, 1 MiB and 64 MiB through `run -i`, `exec -i`
 * and `start -a -i`, compared by checksum in the container; 64 MiB out as
 * well. Then the traps around them: -t without a terminal, detach keys,
 * attach and wait on a created container, load/save at the CLI's edges.
 */
let d: TestDaemon;
let tmp: string;
beforeAll(async () => {
  d = await TestDaemon.start();
  tmp = await mkdtemp('/tmp/hull-stdin-');
});
afterAll(async () => {
  await d?.destroy();
  await rm(tmp, { recursive: true, force: true });
});

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [0, 1, 32 * KiB - 1, 32 * KiB, 32 * KiB + 1, MiB, 64 * MiB];
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** The CLI with stdin from a pipe (a Buffer written into it) or from a file (`< file`). */
function hull(args: string[], stdin: { data?: Buffer; file?: string } = {}, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const fd = stdin.file ? openSync(stdin.file, 'r') : undefined;
    const p = spawn(process.execPath, [join(REPO, 'bin/hull'), '-H', `unix://${d.socket}`, ...args], { stdio: [fd ?? 'pipe', 'pipe', 'pipe'] });
    if (fd !== undefined) closeSync(fd);
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.stdin?.on('error', () => undefined);
    p.stdin?.end(stdin.data ?? Buffer.alloc(0));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`hull ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr });
    });
  });
}

describe('stdin and stdout through attach, at any size', () => {
  const inputs = new Map<number, { data: Buffer; file: string }>();
  beforeAll(async () => {
    for (const n of SIZES) {
      const data = randomBytes(n);
      const file = join(tmp, `in-${n}`);
      await writeFile(file, data);
      inputs.set(n, { data, file });
    }
    await d.ok(['run', '-d', '--name', 'sink', 'busybox', 'sleep', '600']);
    await d.ok(['create', '-i', '--name', 'again', 'busybox', 'md5sum']);
  });

  it.each(SIZES)('run -i, exec -i and start -a -i pass %d bytes whole and in order', async (n) => {
    const { data, file } = inputs.get(n)!;
    const want = `${md5(data)}  -\n`;
    const run = await hull(['run', '-i', '--rm', 'busybox', 'md5sum'], { data });
    expect({ code: run.code, out: run.stdout.toString(), err: run.stderr }).toEqual({ code: 0, out: want, err: '' });
    const exec = await hull(['exec', '-i', 'sink', 'md5sum'], { file });
    expect({ code: exec.code, out: exec.stdout.toString(), err: exec.stderr }).toEqual({ code: 0, out: want, err: '' });
    const start = await hull(['start', '-a', '-i', 'again'], { data });
    expect({ code: start.code, out: start.stdout.toString(), err: start.stderr }).toEqual({ code: 0, out: want, err: '' });
  });

  it('64 MiB comes back out whole through run -i and exec -i (cat)', async () => {
    const { data, file } = inputs.get(64 * MiB)!;
    const run = await hull(['run', '-i', '--rm', 'busybox', 'cat'], { file });
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBe(data.length);
    expect(md5(run.stdout)).toBe(md5(data));
    const exec = await hull(['exec', '-i', 'sink', 'sh', '-c', 'cat; echo done >&2'], { data });
    expect(exec.stderr).toBe('done\n');
    expect(md5(exec.stdout)).toBe(md5(data));
  });

  it('bytes a client sends right behind its upgrade request are the first of the input', async () => {
    await d.ok(['create', '-i', '--name', 'early', 'busybox', 'md5sum']);
    const id = (await d.ok(['inspect', '-f', '{{.Id}}', 'early'])).trim();
    const sock = connect(d.socket);
    const got: Buffer[] = [];
    sock.on('data', (b: Buffer) => got.push(b));
    const closed = new Promise((r) => sock.on('close', r));
    // One write: the request, then the input and its end, before any answer.
    sock.end(`POST /v1/containers/${id}/attach?stdin=1 HTTP/1.1\r\nHost: hull\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly bytes`);
    await waitFor(async () => Buffer.concat(got).includes('101'), 10_000);
    await d.ok(['start', 'early']);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 15_000))]);
    sock.destroy();
    const text = Buffer.concat(got).toString('latin1');
    expect(text).toContain(`${md5(Buffer.from('early bytes'))}  -`);
    await d.ok(['rm', '-f', 'early']);
  });

  it('output reaches a slow reader whole: the CLI waits for stdout before it exits', async () => {
    const script = `'${join(REPO, 'bin/hull')}' -H 'unix://${d.socket}' exec sink sh -c 'head -c 4194304 /dev/zero' | (sleep 2; wc -c)`;
    const r = await new Promise<string>((resolve) => {
      const p = spawn('sh', ['-c', script]);
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.on('close', () => resolve(out.trim()));
    });
    expect(r).toBe(String(4 * MiB));
  });
});

describe('terminals: -t needs one, detach keys leave one', () => {
  it('run -it and exec -it refuse a stdin that is not a terminal, as docker (nothing is created)', async () => {
    const before = await d.ok(['ps', '-aq']);
    const r = await hull(['run', '-it', '--rm', 'busybox', 'cat'], { data: Buffer.from('data\n') }, 15_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the input device is not a TTY/);
    expect(await d.ok(['ps', '-aq'])).toBe(before);
    await d.ok(['run', '-d', '--name', 'tt', 'busybox', 'sleep', '600']);
    const e = await hull(['exec', '-it', 'tt', 'cat'], { data: Buffer.from('data\n') }, 15_000);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/the input device is not a TTY/);
    // -t alone takes no input, so any stdin will do.
    const t = await hull(['run', '-t', '--rm', 'busybox', 'echo', 'hi'], { data: Buffer.from('x') });
    expect(t.stdout.toString()).toBe('hi\r\n');
    await d.ok(['rm', '-f', 'tt']);
  });

  it('Ctrl-P Ctrl-Q leaves run -it with 0, the container running; attach comes back to it', async () => {
    const r = await d.hullTty(['run', '-it', '--name', 'dk', 'busybox', 'sh'], [
      [1500, 'echo first-$((40+2))\r'],
      [700, '\x10\x11'],
    ]);
    expect(r.out).toMatch(/first-42/);
    expect(r.out).toMatch(/read escape sequence/);
    expect(r.code).toBe(0);
    expect(await d.state('dk', 'Status')).toBe('running');
    // The terminal's input survives the detach: the next attach types into the same shell.
    const a = await d.hullTty(['attach', 'dk'], [[1500, 'echo second-$((50+5)); exit 3\r']]);
    expect(a.out).toMatch(/second-55/);
    expect(a.code).toBe(3);
  });

  it('--detach-keys sets other keys (exec -it); a lone first key is typed through', async () => {
    await d.ok(['run', '-d', '--name', 'dx', 'busybox', 'sleep', '600']);
    const r = await d.hullTty(['exec', '-it', '--detach-keys', 'ctrl-a,x', 'dx', 'sh'], [
      [1500, 'echo \x01y-$((1+1))\r'], // ctrl-a then y: not the sequence, both reach the shell
      [700, '\x01x'],
    ]);
    expect(r.out).toMatch(/y-2/);
    expect(r.out).toMatch(/read escape sequence/);
    expect(r.code).toBe(0);
    const bad = await hull(['attach', '--detach-keys', 'ctrl-1', 'dx']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid detach keys "ctrl-1"/);
    await d.ok(['rm', '-f', 'dx']);
  });

  it('a vanished client of run --rm -i ends its input: cat sees the end, the container goes', async () => {
    const p = spawn(process.execPath, [join(REPO, 'bin/hull'), '-H', `unix://${d.socket}`, 'run', '-i', '--rm', '--name', 'orphan', 'busybox', 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
    await waitFor(async () => (await d.hull(['inspect', '-f', '{{.State.Status}}', 'orphan'])).stdout.trim() === 'running', 15_000);
    p.kill('SIGKILL');
    await waitFor(async () => (await d.hull(['inspect', 'orphan'])).code !== 0, 15_000);
    p.stdin.destroy();
  });
});

describe('attach and wait on a container that has not started', () => {
  it('attach refuses a created container at once, as docker', async () => {
    await d.ok(['create', '--name', 'cr', 'busybox', 'sh', '-c', 'exit 5']);
    const r = await hull(['attach', 'cr'], {}, 10_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/You cannot attach to a stopped container, start it first/);
  });

  it('wait on a created container waits for it to start and stop', async () => {
    const waiting = hull(['wait', 'cr'], {}, 30_000);
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 1500));
    expect(settled).toBe(false);
    await d.ok(['start', 'cr']);
    const r = await waiting;
    expect(r.stdout.toString()).toBe('5\n');
    // Once it has run, wait answers at once.
    expect(await d.ok(['wait', 'cr'])).toBe('5\n');
    await d.ok(['rm', 'cr']);
  });
});

describe('load and save at the edges', () => {
  it('load -i of a missing file, a directory, or garbage: a plain error naming the file', async () => {
    const missing = await hull(['load', '-i', 'missing.tar']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error: open missing.tar: no such file or directory\n');
    const dir = await hull(['load', '-i', tmp]);
    expect(dir.stderr).toBe(`Error: read ${tmp}: is a directory\n`);
    const garbage = join(tmp, 'garbage.tar');
    await writeFile(garbage, randomBytes(5000));
    const g = await hull(['load', '-i', garbage]);
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(new RegExp(`^Error: ${garbage}: image archive: not a readable tar archive`));
    expect(g.stderr).not.toContain(d.root);
  });

  it('a reader that goes away (save | head -c0) ends the CLI quietly, as SIGPIPE would', async () => {
    for (const args of [['save', 'busybox'], ['cp', 'sink:/bin', '-'], ['exec', 'sink', 'sh', '-c', 'head -c 8388608 /dev/zero']]) {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [join(REPO, 'bin/hull'), '-H', `unix://${d.socket}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        p.stdout.destroy();
        p.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r).toEqual({ code: 141, stderr: '' });
    }
  });
});
