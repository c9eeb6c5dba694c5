import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerClients, runDocker, startDockerDaemon } from '../helpers/docker.js';
import { REPO, type TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * `hull cp` (and docker cp through the Docker socket) for a VM-isolated
 * container: the copy runs in its guest, through the agent (guest/cp), with
 * docker cp's rules. One container for the whole file (a TCG boot is slow).
 */
let d: TestDaemon;
let sock: string;
let destroy: () => Promise<void>;
let tmp: string;
const C = 'isocp';

beforeAll(async () => {
  ({ daemon: d, sock, destroy } = await startDockerDaemon('vm-isolated-cp'));
  tmp = await mkdtemp('/tmp/hull-isocp-');
  await d.ok(['run', '-d', '--name', C, '--isolation', 'vm', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo one >/data/a && echo two >/data/sub/b && ln -s /data /data-link && exec sleep 600'], { timeoutMs: 90_000 });
  await waitFor(async () => (await d.hull(['exec', C, 'test', '-e', '/data-link'], { timeoutMs: 60_000 })).code === 0, 90_000, 500);
}, 200_000);

afterAll(async () => {
  await destroy?.();
  await rm(tmp, { recursive: true, force: true });
});

/** A shell pipeline with the CLI as `hull` (bash, pipefail). */
function sh(script: string): Promise<{ code: number; out: string; err: string }> {
  const hull = `hull() { '${process.execPath}' '${join(REPO, 'bin/hull')}' -H 'unix://${d.socket}' "$@"; }`;
  return new Promise((resolve) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', `${hull}\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

const inC = (cmd: string) => d.ok(['exec', C, 'sh', '-c', cmd], { timeoutMs: 60_000 });
const T = { timeout: 120_000 };

describe('hull cp, VM-isolated container', () => {
  it('copies a file and a directory out (a symlink followed with -L, contents with /.)', T, async () => {
    await d.ok(['cp', `${C}:/data/a`, join(tmp, 'a.txt')], { timeoutMs: 60_000 });
    expect(await readFile(join(tmp, 'a.txt'), 'utf8')).toBe('one\n');
    await d.ok(['cp', `${C}:/data`, join(tmp, 'out')], { timeoutMs: 60_000 });
    expect(await readFile(join(tmp, 'out', 'sub', 'b'), 'utf8')).toBe('two\n');
    await d.ok(['cp', '-L', `${C}:/data-link`, join(tmp, 'linked')], { timeoutMs: 60_000 });
    expect(await readFile(join(tmp, 'linked', 'a'), 'utf8')).toBe('one\n');
    await mkdir(join(tmp, 'contents'));
    await d.ok(['cp', `${C}:/data/.`, join(tmp, 'contents')], { timeoutMs: 60_000 });
    expect(await readFile(join(tmp, 'contents', 'sub', 'b'), 'utf8')).toBe('two\n');
  });

  it('copies a file and a directory in (into a directory, to a new name), owned as the archive says', T, async () => {
    await writeFile(join(tmp, 'in.txt'), 'copied in\n');
    await d.ok(['cp', join(tmp, 'in.txt'), `${C}:/tmp/`], { timeoutMs: 60_000 });
    await d.ok(['cp', join(tmp, 'in.txt'), `${C}:/tmp/renamed.txt`], { timeoutMs: 60_000 });
    await mkdir(join(tmp, 'tree', 'deep'), { recursive: true });
    await writeFile(join(tmp, 'tree', 'deep', 'f'), 'deep\n');
    await d.ok(['cp', join(tmp, 'tree'), `${C}:/newtree`], { timeoutMs: 60_000 });
    expect(await inC('cat /tmp/in.txt /tmp/renamed.txt /newtree/deep/f; stat -c %u:%g /newtree/deep/f')).toBe('copied in\ncopied in\ndeep\n0:0\n');
  });

  it('cp - streams a tar both ways, read and written by tar', T, async () => {
    const out = await sh(`hull cp ${C}:/data - | tar -t | sort`);
    expect(out.code).toBe(0);
    expect(out.out.split('\n').filter(Boolean)).toEqual(['data/', 'data/a', 'data/sub/', 'data/sub/b']);
    await mkdir(join(tmp, 'src'));
    await writeFile(join(tmp, 'src', 'x'), 'from tar\n');
    const into = await sh(`tar -c -C '${tmp}/src' . | hull cp - ${C}:/data/sub`);
    expect(into.code, into.err).toBe(0);
    expect(await inC('cat /data/sub/x')).toBe('from tar\n');
  });

  it('says a missing path is not found, and refuses what the rules refuse', T, async () => {
    const missing = await d.hull(['cp', `${C}:/nope`, tmp], { timeoutMs: 60_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/container isocp: "\/nope" not found/);
    const notDir = await d.hull(['cp', `${C}:/data/a/`, tmp], { timeoutMs: 60_000 });
    expect(notDir.stderr).toMatch(/"\/data\/a\/" is not a directory/);
    const noDest = await sh(`tar -c -C '${tmp}/src' . | hull cp - ${C}:/nowhere`);
    expect(noDest.code).toBe(1);
    expect(noDest.err).toMatch(/destination directory "\/nowhere\/\." not found/);
    const dirOntoFile = await d.hull(['cp', join(tmp, 'tree'), `${C}:/data/a`], { timeoutMs: 60_000 });
    expect(dirOntoFile.stderr).toMatch(/cannot copy a directory onto the file "\/data\/a"/);
  });

  it('docker cp works through the Docker socket', T, async () => {
    const client = dockerClients()[0];
    if (!client) return; // no docker CLI on this machine: the suite's other cases stand
    const into = await runDocker(client, sock, ['cp', join(tmp, 'in.txt'), `${C}:/tmp/docker-in.txt`], { timeoutMs: 60_000 });
    expect(into.code, into.stderr).toBe(0);
    expect(await inC('cat /tmp/docker-in.txt')).toBe('copied in\n');
    const out = await runDocker(client, sock, ['cp', `${C}:/data`, join(tmp, 'docker-out')], { timeoutMs: 60_000 });
    expect(out.code, out.stderr).toBe(0);
    expect(await readFile(join(tmp, 'docker-out', 'sub', 'b'), 'utf8')).toBe('two\n');
    const missing = await runDocker(client, sock, ['cp', `${C}:/nope`, join(tmp, 'x')], { timeoutMs: 60_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/not found|No such/);
  });

  it('refuses a stopped one clearly, and never mounts its disk', T, async () => {
    await d.ok(['stop', '-t', '1', C], { timeoutMs: 60_000 });
    const r = await d.hull(['cp', `${C}:/data/a`, tmp]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/isocp runs in a VM of its own .* not running: cp needs it running/);
    const w = await d.hull(['cp', join(tmp, 'in.txt'), `${C}:/tmp/`]);
    expect(w.stderr).toMatch(/cp needs it running/);
    // Nothing of the container's (its disk, its directory under ivm/) is mounted on the host.
    expect((await readFile('/proc/self/mountinfo', 'utf8')).includes(join(d.root, 'ivm'))).toBe(false);
    expect((await stat(join(tmp, 'a.txt'))).isFile()).toBe(true);
  });
});
