import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from './agent.js';
import { agentExec } from './exec.js';
import { repoRoot } from './guest.js';

/**
 * The guest agent's request decoder (guest/json.awk), run by the host's
 * busybox as the guest runs it: whatever argv Hull sends as JSON must come out
 * of `eval "set -- $J_exec"` as the same words.
 */
const AWK = join(repoRoot(), 'guest', 'json.awk');

function decode(request: unknown): string[] {
  const script = 'eval "$(printf "%s\\n" "$1" | busybox awk -f "$2")"; [ -n "$J_error" ] && { echo "ERR:$J_error"; exit; }; eval "set -- $J_exec"; printf "%s\\0" "$J_id" "$@"';
  const out = execFileSync('busybox', ['sh', '-c', script, 'sh', JSON.stringify(request), AWK]).toString();
  if (out.startsWith('ERR:')) throw new Error(out.trim());
  return out.split('\0').slice(0, -1);
}

describe('guest agent request decoding (json.awk)', () => {
  it('round-trips awkward argv words', () => {
    const words = [
      'plain',
      'two words',
      "it's",
      '"quoted"',
      'back\\slash',
      'new\nline\ttab\r',
      '$HOME `id` $(id)',
      'ünïcødé 😀 中文',
      '\u0001\u001f control',
      '',
      '-n',
      '}{][,:',
      'x'.repeat(5000),
    ];
    expect(decode({ id: 42, exec: words })).toEqual(['42', ...words]);
  });

  it('skips nested values it does not use and reads the keys after them', () => {
    expect(decode({ id: 7, meta: { a: [1, { b: '}' }], c: 'x"y' }, exec: ['echo', 'ok'] })).toEqual(['7', 'echo', 'ok']);
  });

  it('refuses what is not a request', () => {
    expect(() => decode('not an object')).toThrow(/not a JSON object/);
    expect(() => decode({ id: 1, exec: ['a\u0000b'] })).toThrow(/NUL in a string/);
  });
});

/**
 * The agent itself (guest/agent), run by the host's busybox (the guest's
 * version) with its port replaced by a socketpair on fd 3: the real script
 * and the real client, only no VM around them. The VM path is in
 * test/integration/vm-console-exec.test.ts.
 */
describe('guest agent protocol (host busybox)', () => {
  let agent: AgentClient;
  let proc: ChildProcess;
  let spool: string;
  beforeAll(async () => {
    spool = await mkdtemp('/tmp/hull-agent-');
    proc = spawn('busybox', ['sh', join(repoRoot(), 'guest', 'agent')], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      env: { ...process.env, HULL_AGENT_FD: '3', HULL_AGENT_SPOOL: join(spool, 'spool') },
    });
    agent = await AgentClient.over(proc.stdio[3] as Socket, 'test agent');
  });
  afterAll(async () => {
    // At EOF the agent stops its telnetd launcher (a daemon of its own) and exits.
    const exited = new Promise((r) => proc.once('exit', r));
    await agent?.close();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    proc?.kill();
    const launcher = Number(await readFile(join(spool, 'spool', 'launcher.pid'), 'utf8').catch(() => '0'));
    const alive = async () => !/^\d+ \(.*\) Z/.test(await readFile(`/proc/${launcher}/stat`, 'utf8').catch(() => '0 () Z'));
    if (launcher) await waitFor(async () => !(await alive()), 5000);
    await rm(spool, { recursive: true, force: true });
  });

  it('streams output as the command writes it, then the exit code', async () => {
    const seen: Array<{ at: number; text: string }> = [];
    const t0 = Date.now();
    const s = agent.execStream(['sh', '-c', 'echo a; sleep 2; echo b >&2; exit 3'], { onOutput: (k, b) => seen.push({ at: Date.now() - t0, text: `${k}:${b}` }) });
    const code = await s.exitCode;
    const end = Date.now() - t0;
    expect(code).toBe(3);
    // (a stream's first byte comes as a chunk of its own)
    expect(seen.map((x) => x.text).join('')).toBe('stdout:astdout:\nstderr:bstderr:\n');
    expect(end - seen[1].at).toBeGreaterThan(1500);
  });

  it('carries every byte value both ways, and stdin larger than the window', async () => {
    const all = Buffer.alloc(256 * 1024);
    for (let i = 0; i < all.length; i++) all[i] = (i * 7 + (i >> 8)) & 255;
    const r = await agent.exec(['cat'], { stdin: all, timeoutMs: 60_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.equals(all)).toBe(true);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));
    const e = await agent.exec(['sh', '-c', 'cat >&2'], { stdin: bytes });
    expect(e.stderr.equals(bytes)).toBe(true);
    expect(e.stdout.length).toBe(0);
  });

  it('passes argv through whole, decoded by the shell (plain strings) or by json.awk (escapes)', async () => {
    const words = ['', ' a  b ', "it's", '"q"', '$HOME `id` $(id) *', 'ü €', ']', ',', '{"id":1}', 'back\\slash', 'tab\there', 'nl\n'];
    for (const w of [words.filter((x) => !/[\\\t\n"]/.test(x)), words]) {
      const r = await agent.exec(['sh', '-c', 'printf "%s\\0" "$@"', 'sh', ...w]);
      expect(r.stdout.toString().split('\0').slice(0, -1)).toEqual(w);
    }
    expect((await agent.exec(['sh', '-c', 'exit 5'], { stdin: Buffer.from('') })).exitCode).toBe(5);
  });

  it('takes stdin as it comes: an answer before the next line is sent', async () => {
    let out = '';
    const s = agent.execStream(['sh', '-c', 'read a; echo got-$a; read b; echo got-$b'], { stdin: true, onOutput: (_k, b) => (out += b) });
    s.write(Buffer.from('one\n'));
    await waitFor(() => out.includes('got-one'), 10_000);
    expect(out).not.toContain('got-two');
    s.write(Buffer.from('two\n'));
    s.end();
    expect(await s.exitCode).toBe(0);
    expect(out).toBe('got-one\ngot-two\n');
  });

  it('runs execs side by side, each with its own stdin', async () => {
    const runs = Array.from({ length: 4 }, (_v, i) => agent.exec(['sh', '-c', 'tr a-z A-Z; exit $0', String(i)], { stdin: Buffer.from(`run-${i}-`.repeat(5000)) }));
    const rs = await Promise.all(runs);
    rs.forEach((r, i) => {
      expect(r.exitCode).toBe(i);
      expect(r.stdout.toString()).toBe(`RUN-${i}-`.repeat(5000));
    });
  });

  it('says what is wrong: a missing command (127), an unknown user, no command', async () => {
    const r = await agent.exec(['no-such-command-here']);
    expect(r.exitCode).toBe(127);
    expect(r.stderr.toString()).toMatch(/no-such-command-here/);
    await expect(agent.exec(['true'], { user: 'nobody-such' })).rejects.toThrow(/no such user nobody-such/);
    await expect(agent.exec(['true'], { user: 'nobody-such', stdin: Buffer.from('x') })).rejects.toThrow(/no such user/);
    await expect(agent.request({ exec: [] })).rejects.toThrow(/no command/);
    expect((await agent.exec(['true'])).exitCode).toBe(0); // and the agent still answers
  });

  it('runs a command on a terminal (telnetd -i): size, typing, exit code', async () => {
    const s = agentExec(agent, { cmd: ['sh', '-c', 'stty size; tty; read x; echo got-$x; exit 4'], env: [], workingDir: '', user: '', tty: true, stdin: true });
    let out = Buffer.alloc(0);
    s.stdio.onData((k, b) => {
      expect(k).toBe('stdout');
      out = Buffer.concat([out, b]);
    });
    await s.resize(30, 100);
    await s.start();
    await waitFor(() => out.includes('/dev/pts/'), 10_000);
    s.stdio.write(Buffer.from('h\xffi\r', 'latin1'));
    expect(await s.exitCode).toBe(4);
    const text = out.toString('latin1');
    expect(text.startsWith('30 100\r\n/dev/pts/')).toBe(true); // no telnet negotiation, no login-issue line
    expect(text).toMatch(/got-h\xffi\r\n/);
    await s.resize(10, 10); // after the end: nothing to do, no error
  });

  it('Ctrl-C on the terminal interrupts the program, and its exit code (130) still comes back', async () => {
    const s = agentExec(agent, { cmd: ['sh', '-c', 'echo ready; sleep 30'], env: [], workingDir: '', user: '', tty: true, stdin: true });
    let out = '';
    s.stdio.onData((_k, b) => (out += b));
    await s.start();
    await waitFor(() => out.includes('ready'), 10_000);
    const t0 = Date.now();
    s.stdio.write(Buffer.from([3]));
    expect(await s.exitCode).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('without its terminal launcher, a -t exec is a clear error (and plain execs still run)', async () => {
    const pid = Number(await readFile(join(spool, 'spool', 'launcher.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const s = agentExec(agent, { cmd: ['true'], env: [], workingDir: '', user: '', tty: true, stdin: false });
    await s.start();
    await expect(s.exitCode).rejects.toThrow(/terminal launcher is not running/);
    expect((await agent.exec(['echo', 'ok'])).stdout.toString()).toBe('ok\n');
  });
});

describe('guest agent while the guest is still being configured (host busybox)', () => {
  it('greets and answers pings at once, holds exec and info until the marker goes, then runs them', async () => {
    const dir = await mkdtemp('/tmp/hull-agent-');
    const marker = join(dir, 'configuring');
    await writeFile(marker, '');
    const proc = spawn('busybox', ['sh', join(repoRoot(), 'guest', 'agent')], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      env: { ...process.env, HULL_AGENT_FD: '3', HULL_AGENT_SPOOL: join(dir, 'spool'), HULL_AGENT_CONFIGURING: marker },
    });
    const agent = await AgentClient.over(proc.stdio[3] as Socket, 'test agent');
    try {
      let ran = false;
      const exec = agent.exec(['echo', 'ran']).then((r) => ((ran = true), r));
      const info = agent.info(10_000);
      await agent.ping(); // answered while the exec waits
      await new Promise((r) => setTimeout(r, 500));
      expect(ran).toBe(false);
      await rm(marker);
      expect((await exec).stdout.toString()).toBe('ran\n');
      expect(typeof (await info).hostname).toBe('string');
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      await agent.close();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      proc.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
