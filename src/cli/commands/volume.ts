import type { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { finished, pipeline } from 'node:stream/promises';
import { parseSize } from '../../core/units.js';
import { volumeJson, type VolumeLike } from '../../api/docker-view/volume.js';
import { inspectRefs } from '../inspect-refs.js';
import { VOLUME_HEADERS, VOLUME_TABLE, volumeContext, type VolumeRow } from '../view/volume-context.js';
import { confirmRemoval } from '../prompt.js';
import { collect, enc, forEachRef, getCtx } from '../context.js';
import { ago, printList, table } from '../format.js';

const kv = (xs: string[]) => Object.fromEntries(xs.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));

/** `hull volume create|ls|inspect|rm|prune|export|import|snapshot`: docker's verbs, plus block volumes and snapshots. */
export function register(program: Command): void {
  const vol = program.command('volume').description('manage volumes');
  const client = () => getCtx(program.opts().host).client;

  vol
    .command('create')
    .description('create a volume: local (a directory) or block (a disk for VMs and containers)')
    .argument('[name]', 'the name (default: a generated id)')
    .option('-d, --driver <driver>', 'local (default) or block')
    .option('--type <driver>', 'the same as --driver')
    .option('--size <size>', 'a block volume\'s size (e.g. 2g; default 1g)')
    .option('-o, --opt <k=v>', 'driver option (repeatable): local type=tmpfs|none, device=, o=; block format=qcow2|raw', collect, [])
    .option('-l, --label <k=v>', 'set a label (repeatable)', collect, [])
    .action(async (name: string | undefined, o: { driver?: string; type?: string; size?: string; opt: string[]; label: string[] }) => {
      const driver = o.driver ?? o.type ?? (o.size ? 'block' : 'local');
      const body = { name, driver, options: kv(o.opt), labels: kv(o.label), sizeBytes: o.size ? parseSize(o.size) : undefined };
      const v = await client().call<VolumeRow>('POST', '/v1/volumes', body);
      process.stdout.write(`${v.name}\n`);
    });

  vol
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only names')
    .option('--format <format>', "table (default), json (Hull's JSON), or a Go template as docker's: '{{.Name}} {{.Driver}}'")
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const xs = await client().call<VolumeRow[]>('GET', '/v1/volumes');
      if (o.quiet) return void process.stdout.write(xs.map((x) => `${x.name}\n`).join(''));
      printList({ format: o.format, items: xs, rows: () => xs.map(volumeContext), headers: VOLUME_HEADERS, table: VOLUME_TABLE });
    });

  vol
    .command('inspect')
    .description('show volumes as JSON: mountpoint, options, holder, the containers and VMs using each')
    .argument('<volume...>')
    .option('-f, --format <format>', "json (default: Hull's records) or a Go template over docker's document plus Hull's fields, e.g. '{{.Mountpoint}}'")
    .action(async (refs: string[], o: { format?: string }) => {
      await inspectRefs(refs, o.format, async (ref) => {
        const v = await client().call<VolumeLike>('GET', `/v1/volumes/${enc(ref)}`);
        return { hull: v, docker: volumeJson(v) };
      });
    });

  vol
    .command('rm')
    .alias('remove')
    .description('remove volumes (refused while a container or VM uses one)')
    .argument('<volume...>')
    .option('-f, --force', 'accepted for docker compatibility; a volume in use is still refused')
    .action(async (refs: string[]) => {
      await forEachRef(refs, async (ref) => {
        await client().call('DELETE', `/v1/volumes/${enc(ref)}`);
        process.stdout.write(`${ref}\n`);
      });
    });

  vol
    .command('prune')
    .description('remove unused anonymous volumes (-a: every unused volume)')
    .option('-a, --all', 'named volumes too')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (o: { all?: boolean; force?: boolean }) => {
      if (!o.force && !(await confirmRemoval(o.all ? 'all volumes not used by at least one container' : 'all anonymous volumes not used by at least one container'))) return;
      const r = await client().call<{ deleted: string[] }>('POST', `/v1/volumes/prune${o.all ? '?all=1' : ''}`);
      if (r.deleted.length) process.stdout.write(`Deleted Volumes:\n${r.deleted.join('\n')}\n`);
    });

  vol
    .command('export')
    .description('write a volume as a tar stream (a local volume\'s files; a block volume\'s disk)')
    .argument('<volume>')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (ref: string, o: { output?: string }) => {
      if (!o.output && process.stdout.isTTY) throw new Error('refusing to write a tar stream to a terminal: use -o FILE or redirect stdout');
      const res = await client().stream('GET', `/v1/volumes/${enc(ref)}/export`);
      await pipeline(res, o.output ? createWriteStream(o.output) : process.stdout);
    });

  vol
    .command('import')
    .description('make a new volume from an export')
    .argument('<volume>', 'the new volume\'s name')
    .option('-i, --input <file>', 'read from a file instead of stdin')
    .action(async (name: string, o: { input?: string }) => {
      if (!o.input && process.stdin.isTTY) throw new Error('refusing to read a tar stream from a terminal: use -i FILE or redirect stdin');
      const body = o.input ? createReadStream(o.input) : process.stdin;
      const res = await client().stream('POST', `/v1/volumes/import?name=${enc(name)}`, body, 'application/x-tar');
      res.resume();
      await finished(res);
      process.stdout.write(`${name}\n`);
    });

  const snap = vol.command('snapshot').description("a volume's snapshots (block: qcow2 internal snapshots; local: a copy)");
  snap
    .command('create')
    .argument('<volume>')
    .argument('<snapshot>')
    .description('take a snapshot (a block volume: while it is unused, or attached to a running VM)')
    .action(async (ref: string, name: string) => {
      await client().call('POST', `/v1/volumes/${enc(ref)}/snapshots`, { name });
    });
  snap
    .command('ls')
    .alias('list')
    .argument('<volume>')
    .description("list a volume's snapshots")
    .action(async (ref: string) => {
      const xs = await client().call<Array<{ name: string; createdAt: string }>>('GET', `/v1/volumes/${enc(ref)}/snapshots`);
      process.stdout.write(`${table(['NAME', 'CREATED'], xs.map((x) => [x.name, ago(x.createdAt)]))}\n`);
    });
  snap
    .command('restore')
    .argument('<volume>')
    .argument('<snapshot>')
    .description('go back to a snapshot (while no running container or VM uses the volume)')
    .action(async (ref: string, name: string) => {
      await client().call('POST', `/v1/volumes/${enc(ref)}/snapshots/${enc(name)}/restore`);
    });
  snap
    .command('rm')
    .alias('remove')
    .argument('<volume>')
    .argument('<snapshot>')
    .description('delete a snapshot')
    .action(async (ref: string, name: string) => {
      await client().call('DELETE', `/v1/volumes/${enc(ref)}/snapshots/${enc(name)}`);
    });
}
