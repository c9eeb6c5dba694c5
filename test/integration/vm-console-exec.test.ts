import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * A VM's console shared by several clients, and `vm exec` streaming both
 * ways, through the real CLI and daemon, QEMU under TCG. Needs the built
 * guest (`npm run setup`).
 */
process.env.HULL_VM_ACCEL = 'tcg';
const BIN = join(REPO, 'bin', 'hull');
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));

/** A CLI process whose output is watched as it comes. */
class Cli {
  readonly p: ChildProcessWithoutNullStreams;
  out = Buffer.alloc(0);
  err = '';
  /** When each stdout chunk arrived (ms since start). */
  chunks: Array<{ at: number; data: string }> = [];
  exited: Promise<number>;
  private t0 = Date.now();

  constructor(socket: string, args: string[]) {
    this.p = spawn(process.execPath, [BIN, '-H', `unix://${socket}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.p.stdout.on('data', (b: Buffer) => {
      this.out = Buffer.concat([this.out, b]);
      this.chunks.push({ at: Date.now() - this.t0, data: b.toString() });
    });
    this.p.stderr.on('data', (b: Buffer) => (this.err += b.toString()));
    this.exited = new Promise((r) => this.p.on('close', (code) => r(code ?? -1)));
  }

  get text(): string {
    return this.out.toString();
  }

  async until(re: RegExp, timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => re.test(this.text), timeoutMs).catch(() => {
      throw new Error(`no ${re} in ${JSON.stringify(this.text.slice(-2000))} (stderr: ${this.err})`);
    });
  }
}

describe.skipIf(!guestBuilt)('VM console hub and streaming exec (CLI, TCG)', () => {
  let d: TestDaemon;
  const running: Cli[] = [];
  const cli = (args: string[]) => {
    const c = new Cli(d.socket, args);
    running.push(c);
    return c;
  };

  beforeAll(async () => {
    d = await TestDaemon.start();
    await d.ok(['vm', 'create', '--name', 'cx', '--cpus', '1', '--memory', '256m', '--image', 'debian-min', '--network', 'none']);
    await d.ok(['vm', 'start', 'cx']);
    await waitFor(async () => (await d.hull(['vm', 'exec', 'cx', '--', 'true'])).code === 0, 120_000, 1000);
  }, 180_000);
  afterAll(async () => {
    running.forEach((c) => c.p.exitCode === null && c.p.kill('SIGKILL'));
    await d?.destroy();
  }, 60_000);

  it('two console clients at once: both see what one types; one leaves, the other goes on; a newcomer gets context', async () => {
    const a = cli(['vm', 'console', 'cx']);
    const b = cli(['vm', 'console', 'cx']);
    // Each attach starts with the console's recent output (the boot's readiness marker is in it).
    await a.until(/HULL_GUEST_READY/);
    await b.until(/HULL_GUEST_READY/);
    a.p.stdin.write('\necho from-a-$((6*7))\n');
    await a.until(/from-a-42/);
    await b.until(/from-a-42/);
    // A third client, attached later, is shown what was just typed.
    const c = cli(['vm', 'console', 'cx']);
    await c.until(/from-a-42/);
    c.p.stdin.write('\x1d');
    expect(await c.exited).toBe(0);
    // A detaches (Ctrl-]); B still types and sees.
    a.p.stdin.write('\x1d');
    expect(await a.exited).toBe(0);
    b.p.stdin.write('echo from-b-$((5+5))\n');
    await b.until(/from-b-10/);
    b.p.stdin.write('\x1d');
    expect(await b.exited).toBe(0);
    // All gone: the hub closed and QEMU's console takes the next client.
    const e = cli(['vm', 'console', 'cx']);
    e.p.stdin.write('\necho again-$((1+2))\n');
    await e.until(/again-3/);
    e.p.stdin.write('\x1d');
    expect(await e.exited).toBe(0);
  }, 120_000);

  it('vm exec streams: the first line arrives well before the command ends', async () => {
    const x = cli(['vm', 'exec', 'cx', '--', 'sh', '-c', 'echo a; sleep 3; echo b; exit 6']);
    expect(await x.exited).toBe(6);
    expect(x.text).toBe('a\nb\n');
    const first = x.chunks.find((ch) => ch.data.includes('a'))!;
    const last = x.chunks.find((ch) => ch.data.includes('b'))!;
    expect(first.data).not.toContain('b');
    expect(last.at - first.at).toBeGreaterThan(2000);
  }, 60_000);

  it('vm exec -i passes stdin and its end, any byte values, and exit codes carry', async () => {
    const hi = await d.hull(['vm', 'exec', '-i', 'cx', '--', 'cat'], { input: 'hi\n' });
    expect(hi).toMatchObject({ code: 0, stdout: 'hi\n' });
    expect(await d.hull(['exec', '-i', 'cx', 'sh', '-c', 'wc -c; exit 9'], { input: 'x'.repeat(100_000) })).toMatchObject({ code: 9, stdout: expect.stringMatching(/^\s*100000\n$/) });
    expect((await d.hull(['vm', 'exec', 'cx', '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await d.hull(['vm', 'exec', 'cx', '--', 'no-such-cmd'])).code).toBe(127);

    const bytes = Buffer.alloc(256 * 64);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i & 255;
    const bin = cli(['vm', 'exec', '-i', 'cx', '--', 'cat']);
    bin.p.stdin.end(bytes);
    expect(await bin.exited).toBe(0);
    expect(bin.out.equals(bytes)).toBe(true);
    // And from the guest: every byte value printed by the command itself.
    const gen = cli(['vm', 'exec', 'cx', '--', 'sh', '-c', 'i=0; while [ $i -lt 256 ]; do printf "\\\\$(printf %o $i)"; i=$((i+1)); done']);
    expect(await gen.exited).toBe(0);
    expect(gen.out.equals(Buffer.from(Array.from({ length: 256 }, (_v, i) => i)))).toBe(true);
    // Volume: 2 MiB of random bytes, in order and whole (the guest's md5 on stderr).
    const big = cli(['vm', 'exec', 'cx', '--', 'sh', '-c', 'head -c 2097152 /dev/urandom >/tmp/r; cat /tmp/r; md5sum /tmp/r >&2; rm /tmp/r']);
    expect(await big.exited).toBe(0);
    expect(big.out.length).toBe(2097152);
    expect(big.err.split(' ')[0]).toBe(createHash('md5').update(big.out).digest('hex'));
  }, 120_000);

  it('vm exec -t runs on a terminal; -it takes typed input; hull exec -it on a VM too', async () => {
    const t = await d.hull(['vm', 'exec', '-t', 'cx', '--', 'sh', '-c', 'tty; echo TERM=$TERM']);
    expect(t).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\/dev\/pts\/\d+\r\nTERM=xterm\r\n$/) });
    const it2 = await d.hull(['vm', 'exec', '-it', 'cx', 'sh'], { input: 'echo tty-$((2+3))\nexit 3\n' });
    expect(it2.stdout).toMatch(/tty-5/);
    expect(it2.code).toBe(3);
    // hull exec -it wants a terminal for its input (docker's rule): this one runs under a pty.
    const viaExec = await d.hullTty(['exec', '-it', 'cx', 'sh', '-c', 'read l; echo got-$l; exit 4'], [[2000, 'line\n']]);
    expect(viaExec.out).toMatch(/got-line/);
    expect(viaExec.code).toBe(4);
    // Ctrl-C on the terminal interrupts the program (it is not started with SIGINT ignored).
    const sleeper = cli(['vm', 'exec', '-it', 'cx', 'sh', '-c', 'echo ready; sleep 60']);
    await sleeper.until(/ready/);
    const t0 = Date.now();
    sleeper.p.stdin.write('\x03');
    expect(await sleeper.exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 120_000);

  it('a VM that stops ends its console clients; after a start the console is attachable again', async () => {
    const a = cli(['vm', 'console', 'cx']);
    const b = cli(['vm', 'console', 'cx']);
    await a.until(/\S/);
    await b.until(/\S/);
    await d.ok(['vm', 'kill', 'cx']);
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    await d.ok(['vm', 'start', 'cx']);
    await waitFor(async () => (await d.hull(['vm', 'exec', 'cx', '--', 'true'])).code === 0, 120_000, 1000);
    const c = cli(['vm', 'console', 'cx']);
    await c.until(/HULL_GUEST_READY/);
    c.p.stdin.write('\necho back-$((3*3))\n');
    await c.until(/back-9/);
    c.p.stdin.write('\x1d');
    expect(await c.exited).toBe(0);
  }, 180_000);
});
