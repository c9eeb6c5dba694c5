import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { extractInto, packPath } from '../../storage/archive.js';
import { enc, exitWith, getCtx } from '../context.js';

/** `hull cp CONTAINER:SRC DEST` and `hull cp SRC CONTAINER:DEST`, as docker cp. */
export function register(program: Command): void {
  program
    .command('cp')
    .description('copy files between a container and the host (CONTAINER:PATH on one side)')
    .argument('<src>')
    .argument('<dest>')
    .action(async (src: string, dest: string) => {
      const ctx = getCtx(program.opts().host);
      const from = splitRef(src);
      const to = splitRef(dest);
      if (!!from === !!to) {
        process.stderr.write('Error: exactly one of the two paths must be CONTAINER:PATH\n');
        exitWith(1);
      }
      if (from) {
        const res = await ctx.client.stream('GET', `/v1/containers/${enc(from.ref)}/archive?path=${enc(from.path)}`);
        const target = resolve(dest);
        const isDir = await stat(target).then((s) => s.isDirectory(), () => false);
        const root = isDir ? target : dirname(target);
        // Owners are kept only for root, as tar does.
        await extractInto(root, res, { into: root, renameTop: isDir ? undefined : basename(target), keepOwners: process.getuid?.() === 0 });
      } else {
        const local = resolve(src);
        await stat(local).catch(() => {
          throw new Error(`no such file or directory: ${src}`);
        });
        const res = await ctx.client.stream('PUT', `/v1/containers/${enc(to!.ref)}/archive?path=${enc(to!.path)}`, packPath(local), 'application/x-tar');
        res.resume(); // nothing to read, but the response must end for the connection to be freed
        await new Promise((r) => res.on('end', r));
      }
    });
}

function splitRef(s: string): { ref: string; path: string } | undefined {
  const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.+)$/.exec(s);
  if (!m || s.startsWith('/') || s.startsWith('.')) return undefined;
  return { ref: m[1], path: m[2] };
}
