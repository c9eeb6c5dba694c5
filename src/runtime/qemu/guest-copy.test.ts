import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { statOf } from '../../api/docker/path-stat.js';
import { entryName } from '../../storage/archive-repack.js';
import type { AgentClient, AgentExecStream } from './agent.js';
import { GuestCopier, parseProbe } from './guest-copy.js';

describe('guest copy: what the guest and the client send is checked', () => {
  it('takes a probe answer only in its grammar', () => {
    expect(parseProbe(Buffer.from('dir /data\n'))).toEqual({ kind: 'dir', resolved: '/data' });
    expect(parseProbe(Buffer.from('missing /a b/c\n'))).toEqual({ kind: 'missing', resolved: '/a b/c' });
    expect(parseProbe(Buffer.from('dangling\n'))).toEqual({ kind: 'dangling', resolved: '' });
    for (const bad of ['dir relative', 'file /x\0y', 'owned /x', '', `dir /${'a'.repeat(5000)}`]) expect(() => parseProbe(Buffer.from(bad))).toThrow(/should not/);
  });

  it('renames the top entry, drops `.`, refuses `..` and a second top-level entry', () => {
    expect(entryName('a/b', { from: 'a', to: 'z' })).toBe('z/b');
    expect(entryName('/./x/./y')).toBe('x/y');
    expect(entryName('./')).toBe('.');
    expect(() => entryName('x/../../etc')).toThrow(/leaves the destination/);
    expect(() => entryName('other/f', { from: 'a', to: 'z' })).toThrow(/one top-level entry/);
  });

  it('bounds the path-stat read from a guest tar header', () => {
    const s = statOf({ name: 'x/', type: 'directory', mode: 0o755, size: Number.MAX_VALUE, mtime: new Date(NaN), linkname: 'l'.repeat(10000) } as never);
    expect(s).toEqual({ name: 'x', size: 0, mode: 2 ** 31 + 0o755, mtime: new Date(0).toISOString(), linkTarget: 'l'.repeat(4096) });
  });
});

/** A guest whose copy neither sends nor ends (a fake agent: what is checked is the daemon's bound, not the guest). */
function silentGuest(): { agent: AgentClient; ended: () => boolean } {
  let ended = false;
  const stream: AgentExecStream = {
    write: () => true,
    onDrain: () => undefined,
    resumeOutput: () => undefined,
    end: () => void (ended = true),
    exitCode: new Promise<number>(() => undefined),
  };
  return { agent: { execStream: () => stream } as unknown as AgentClient, ended: () => ended };
}

const LIMITS = { answerMs: 100, exitGraceMs: 100 };

describe('guest copy: a guest that never answers or never ends', () => {
  it('gives up on a copy out the guest never answers', async () => {
    const g = silentGuest();
    const packing = new GuestCopier(g.agent, LIMITS).pack({ path: '/x', top: 'x', followLast: false, mustBeDir: false });
    await expect(packing).rejects.toThrow(/did not answer the copy within 100 ms/);
    expect(g.ended()).toBe(true);
  }, 5_000);

  it('fails a copy in whose guest never ends after its input did', async () => {
    const g = silentGuest();
    const unpacking = new GuestCopier(g.agent, LIMITS).unpack('/d', Readable.from([Buffer.from('tar bytes')]));
    await expect(unpacking).rejects.toThrow(/did not finish the copy within 100 ms/);
    expect(g.ended()).toBe(true);
  }, 5_000);
});
