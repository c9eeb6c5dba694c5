import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatSize } from '../../core/units.js';
import { ApiError } from '../client.js';
import { enc, getCtx } from '../context.js';
import { ProgressView, readEvents } from '../progress-view.js';
import { confirmRemoval, readSecret, readStdinAll } from '../prompt.js';

interface Summary {
  id: string;
  tags: string[];
}

const json = (body: unknown) => Readable.from([JSON.stringify(body)]);

/**
 * Registry and archive verbs: pull, push, tag, save, load, login, logout,
 * and `image prune`. pull/push/tag/save/load are also `hull image <verb>`.
 */
export function register(program: Command): void {
  const client = () => getCtx(program.opts().host).client;
  const image = program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('manage images');

  const pull = (parent: Command) =>
    parent
      .command('pull')
      .description('pull an image from a registry')
      .argument('<image>', 'NAME[:TAG] or NAME@DIGEST')
      .option('--platform <os/arch>', 'the platform to take from a multi-platform image (default: this host)')
      .option('-q, --quiet', 'print only the image name')
      .action(async (ref: string, opts: { platform?: string; quiet?: boolean }) => {
        const res = await client().stream('POST', '/v1/images/pull', json({ ref, platform: opts.platform }), 'application/json');
        const view = new ProgressView();
        const r = await readEvents(res, (e) => !opts.quiet && view.handle(e));
        process.stdout.write(`${(r.name as string | undefined) ?? ref}\n`);
      });

  const push = (parent: Command) =>
    parent
      .command('push')
      .description('push an image to a registry')
      .argument('<image>', 'NAME[:TAG]')
      .option('-q, --quiet', 'print nothing but errors')
      .action(async (ref: string, opts: { quiet?: boolean }) => {
        const res = await client().stream('POST', `/v1/images/${enc(ref)}/push`);
        const view = new ProgressView();
        await readEvents(res, (e) => !opts.quiet && view.handle(e));
      });

  const tag = (parent: Command) =>
    parent
      .command('tag')
      .description('give an image another name')
      .argument('<source>', 'image name or id')
      .argument('<target>', 'NAME[:TAG]')
      .action(async (src: string, dst: string) => {
        await client().call('POST', `/v1/images/${enc(src)}/tag?repo=${enc(dst)}`);
      });

  const save = (parent: Command) =>
    parent
      .command('save')
      .description('write images to a tar archive (docker save or OCI layout)')
      .argument('<image...>')
      .option('-o, --output <file>', 'write to a file instead of stdout')
      .option('--format <format>', 'docker or oci', 'docker')
      .action(async (refs: string[], opts: { output?: string; format: string }) => {
        if (!opts.output && process.stdout.isTTY) throw new Error('refusing to write an archive to a terminal: use -o FILE or redirect stdout');
        const extra = refs.slice(1).map((r) => `&ref=${enc(r)}`).join('');
        const res = await client().stream('GET', `/v1/images/${enc(refs[0])}/save?format=${enc(opts.format)}${extra}`);
        const tmp = opts.output ? `${opts.output}.part` : undefined;
        await pipeline(res, tmp ? createWriteStream(tmp) : process.stdout);
        if (tmp) await import('node:fs/promises').then((fs) => fs.rename(tmp, opts.output!));
      });

  const load = (parent: Command) =>
    parent
      .command('load')
      .description('load images from a tar archive (docker save or OCI layout)')
      .option('-i, --input <file>', 'read from a file instead of stdin')
      .option('-q, --quiet', 'print only image names or ids')
      .action(async (opts: { input?: string; quiet?: boolean }) => {
        if (!opts.input && process.stdin.isTTY) throw new Error('requested load from stdin, but stdin is empty: use -i FILE or redirect stdin');
        const body = opts.input ? await openInput(opts.input) : process.stdin;
        let res: IncomingMessage;
        try {
          res = await client().stream('POST', '/v1/images/load', body, 'application/x-tar');
        } catch (e) {
          // The daemon saw an upload; the user knows it as this file.
          if (opts.input && e instanceof ApiError) throw new ApiError(e.status, e.code, `${opts.input}: ${e.message}`);
          throw e;
        }
        let text = '';
        for await (const c of res) text += (c as Buffer).toString();
        for (const x of JSON.parse(text) as Summary[]) {
          const names = x.tags.length ? x.tags.map((t) => `Loaded image: ${t}`) : [`Loaded image ID: ${x.id}`];
          process.stdout.write(`${names.join('\n')}\n`);
        }
      });

  for (const parent of [program, image]) [pull, push, tag, save, load].forEach((def) => def(parent));

  image
    .command('prune')
    .description('remove unused images: those without a name, or with -a all that no container uses (but the built-in busybox)')
    .option('-a, --all', 'remove every image no container uses, not only unnamed ones')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (opts: { all?: boolean; force?: boolean }) => {
      if (!opts.force) {
        if (!(await confirmRemoval(opts.all ? 'all images without at least one container associated to them' : 'all dangling images'))) return;
      }
      const r = await client().call<{ deleted: string[]; untagged: string[]; kept?: string[]; spaceReclaimed: number }>('POST', `/v1/images/prune${opts.all ? '?all=1' : ''}`);
      if (r.untagged.length || r.deleted.length) process.stdout.write('Deleted Images:\n');
      for (const u of r.untagged) process.stdout.write(`untagged: ${u}\n`);
      for (const d of r.deleted) process.stdout.write(`deleted: ${d}\n`);
      // The built-in busybox stays: it needs no registry (hull rmi removes it; it comes back at its next use).
      for (const k of r.kept ?? []) process.stdout.write(`kept: ${k} (built in)\n`);
      process.stdout.write(`\nTotal reclaimed space: ${formatSize(r.spaceReclaimed)}\n`);
    });

  program
    .command('login')
    .description('log in to a registry; the daemon checks the login and keeps it (root only)')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .option('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password (visible to other users in ps: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (server: string | undefined, opts: { username?: string; password?: string; passwordStdin?: boolean }) => {
      if (opts.password && opts.passwordStdin) throw new Error('--password and --password-stdin are mutually exclusive');
      if (opts.passwordStdin && !opts.username) throw new Error('--password-stdin needs --username');
      const username = opts.username ?? (await readSecret('Username: ', true));
      const password = opts.passwordStdin ? (await readStdinAll()).replace(/\r?\n$/, '') : (opts.password ?? (await readSecret('Password: ', false)));
      const r = await client().call<{ status: string }>('POST', '/v1/auth', { registry: server ?? 'docker.io', username, password });
      process.stdout.write(`${r.status}\n`);
    });

  program
    .command('logout')
    .description('forget the login for a registry')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .action(async (server: string | undefined) => {
      const r = await client().call<{ registry: string; removed: boolean }>('DELETE', `/v1/auth/${enc(server ?? 'docker.io')}`);
      process.stdout.write(r.removed ? `Removing login credentials for ${r.registry}\n` : `Not logged in to ${r.registry}\n`);
    });
}

/**
 * A file to upload, opened before the request starts, so that a missing or
 * unreadable one is a plain error (docker's words) and not a stream failing
 * under a request.
 */
async function openInput(path: string): Promise<NodeJS.ReadableStream> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`open ${path}: ${errnoText(e)}`);
  });
  if ((await fh.stat()).isDirectory()) {
    await fh.close();
    throw new Error(`read ${path}: is a directory`);
  }
  return fh.createReadStream();
}

function errnoText(e: NodeJS.ErrnoException): string {
  const words: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', ENOTDIR: 'not a directory', ELOOP: 'too many levels of symbolic links' };
  return words[e.code ?? ''] ?? e.message;
}
