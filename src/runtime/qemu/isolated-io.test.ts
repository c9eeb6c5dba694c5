import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLogLine } from '../oci/logs.js';
import { IsolatedIo, logRecords } from './isolated-io.js';

describe('logRecords', () => {
  it("writes conmon's k8s-file records that Hull's log reader reads back", () => {
    const t = new Date('2026-12-01T02:41:22.123Z');
    const text = logRecords('stdout', 'one\ntwo\npart', t);
    expect(text).toBe('2026-12-01T02:41:22.123000000+00:00 stdout F one\n2026-12-01T02:41:22.123000000+00:00 stdout F two\n2026-12-01T02:41:22.123000000+00:00 stdout P part\n');
    const back = text.trim().split('\n').map(parseLogLine);
    expect(back.map((r) => r?.data).join('')).toBe('one\ntwo\npart');
    expect(Date.parse(back[0]!.time)).toBe(t.getTime());
    expect(logRecords('stderr', '')).toBe('');
  });
});

/**
 * The daemon's side of the ports against unix sockets served the way QEMU
 * serves them (the guest's end is played by the test; the real guest is in
 * test/integration/vm-isolated.test.ts).
 */
describe('IsolatedIo', () => {
  let dir: string;
  let servers: Server[];
  let guest: Record<'stdout' | 'stderr' | 'ctl', Promise<Socket>>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hull-iio-'));
    servers = [];
    const serve = (name: string) =>
      new Promise<Socket>((resolve) => {
        const srv = createServer((s) => resolve(s));
        srv.listen(join(dir, name));
        servers.push(srv);
      });
    guest = { stdout: serve('out.sock'), stderr: serve('err.sock'), ctl: serve('ctl.sock') };
  });
  afterEach(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await rm(dir, { recursive: true, force: true });
  });

  const open = (onExit: (code: number) => Promise<void>) =>
    IsolatedIo.open({ stdout: join(dir, 'out.sock'), stderr: join(dir, 'err.sock'), ctl: join(dir, 'ctl.sock') }, { log: join(dir, 'ctr.log'), counts: join(dir, 'counts.json'), onExit });

  it('logs output, waits for every announced byte before recording the exit, then acks; a split UTF-8 character stays whole', async () => {
    const exits: number[] = [];
    const io = await open(async (code) => void exits.push(code));
    const seen: string[] = [];
    const s = io.attach();
    s.onData((stream, b) => seen.push(`${stream}:${b.toString('hex')}`));
    const closed = new Promise<void>((r) => s.onClose(r));
    const [out, err, ctl] = await Promise.all([guest.stdout, guest.stderr, guest.ctl]);
    const euro = Buffer.from('€\n'); // 3 bytes + newline, sent in two pieces
    out.write(euro.subarray(0, 2));
    // The report overtakes the last bytes, as it can between separate ports.
    ctl.write(`exit 3 ${euro.length} 4\n`);
    await new Promise((r) => setTimeout(r, 100));
    expect(exits).toEqual([]);
    err.write('bad\n');
    out.write(euro.subarray(2));
    const ack = await new Promise<string>((r) => ctl.once('data', (b: Buffer) => r(b.toString())));
    expect(ack).toBe('ack\n');
    expect(exits).toEqual([3]);
    await closed;
    const log = (await readFile(join(dir, 'ctr.log'), 'utf8')).trim().split('\n').map(parseLogLine);
    expect(log.map((r) => `${r?.stream}:${r?.data}`).sort()).toEqual(['stderr:bad\n', 'stdout:€\n']);
    expect(JSON.parse(await readFile(join(dir, 'counts.json'), 'utf8'))).toEqual({ stdout: 4, stderr: 4 });
    expect(seen).toContain(`stdout:${euro.subarray(0, 2).toString('hex')}`);
    await io.close();
  });

  it('sends signals to the guest, and carries on counting from counts.json after a restart', async () => {
    const io = await open(async () => undefined);
    const ctl = await guest.ctl;
    io.signal(15);
    expect(await new Promise<string>((r) => ctl.once('data', (b: Buffer) => r(b.toString())))).toBe('signal 15\n');
    (await guest.stdout).write('12345');
    await new Promise((r) => setTimeout(r, 150));
    await io.close();
    expect(JSON.parse(await readFile(join(dir, 'counts.json'), 'utf8'))).toEqual({ stdout: 5, stderr: 0 });
  });
});
