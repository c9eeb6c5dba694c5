import type { Command } from 'commander';
import { resolve } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { extractTo, packPath, type Packed } from '../../storage/archive.js';
import { RootDir } from '../../storage/root-dir.js';
import type { Client } from '../client.js';
import { enc, getCtx } from '../context.js';

interface CpOptions {
  followLink?: boolean;
}

/**
 * `hull cp CONTAINER:SRC DEST` and `hull cp SRC CONTAINER:DEST`, as docker cp:
 * `-` for DEST writes the tar stream to stdout, `-` for SRC reads one from
 * stdin into a directory. The host's side is walked as the daemon walks the
 * container's (storage/root-dir.ts), with docker's path rules (cp-rules.ts).
 */
export function register(program: Command): void {
  program
    .command('cp')
    .description('copy files between a container and the host (CONTAINER:PATH on one side; - for a tar stream on stdin or stdout)')
    .argument('<src>', 'CONTAINER:PATH, a host path, or - (a tar stream on stdin, extracted into the directory DEST)')
    .argument('<dest>', 'CONTAINER:PATH, a host path, or - (the tar stream of SRC on stdout)')
    .option('-L, --follow-link', 'always follow a symlink given as SRC')
    .action(async (src: string, dest: string, opts: CpOptions) => {
      const client = getCtx(program.opts().host).client;
      const from = splitRef(src);
      const to = splitRef(dest);
      if (!!from === !!to) throw new Error('exactly one of the two paths must be CONTAINER:PATH');
      if (from) await copyFrom(client, from, dest, opts);
      else await copyTo(client, src, to!, opts);
    });
}

async function copyFrom(client: Client, from: Ref, dest: string, o: CpOptions): Promise<void> {
  if (dest === '-' && process.stdout.isTTY) throw new Error('refusing to write a tar stream to a terminal: redirect stdout');
  const res = await client.stream('GET', `/v1/containers/${enc(from.ref)}/archive?path=${enc(from.path)}${o.followLink ? '&followLink=true' : ''}`);
  if (dest === '-') return pipeline(res, process.stdout);
  const root = RootDir.open('/');
  try {
    // Owners are kept only for root, as tar does.
    await extractTo(root, res, { dest: hostPath(dest), keepOwners: process.getuid?.() === 0 });
  } finally {
    root.close();
  }
}

async function copyTo(client: Client, src: string, to: Ref, o: CpOptions): Promise<void> {
  if (src === '-' && process.stdin.isTTY) throw new Error('refusing to read a tar stream from a terminal: redirect stdin');
  const root = src === '-' ? undefined : RootDir.open('/');
  let packed: Packed | undefined;
  try {
    packed = root && (await packPath(root, hostPath(src), { followLink: o.followLink }));
    const body = packed?.stream ?? process.stdin;
    // A tar on stdin lands in the directory as it is, as docker's: `/.` says it must exist.
    const path = src === '-' ? `${to.path.replace(/\/+$/, '')}/.` : to.path;
    const url = `/v1/containers/${enc(to.ref)}/archive?path=${enc(path)}`;
    // A host file that fails mid-read ends the request: no half archive is taken for a whole one.
    const res = await Promise.race([client.stream('PUT', url, body, 'application/x-tar'), failure(body)]);
    res.resume();
    await finished(res);
  } finally {
    // The walk's descriptors are closed before the root's.
    packed?.stream.destroy();
    await packed?.done;
    root?.close();
  }
}

interface Ref {
  ref: string;
  path: string;
}

function splitRef(s: string): Ref | undefined {
  const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/.exec(s);
  if (!m || s.startsWith('/') || s.startsWith('.')) return undefined;
  if (!m[2]) throw new Error(`"${s}": give a path in the container after the colon`);
  return { ref: m[1], path: m[2] };
}

/** Absolute, keeping what a trailing `/` or `/.` says (docker cp's rules). */
function hostPath(p: string): string {
  const abs = resolve(p);
  const dir = abs === '/' ? '' : abs;
  if (/(^|\/)\.$/.test(p)) return `${dir}/.`;
  if (p.endsWith('/')) return `${dir}/`;
  return abs;
}

function failure(s: NodeJS.ReadableStream): Promise<never> {
  return new Promise((_, reject) => s.once('error', reject));
}
