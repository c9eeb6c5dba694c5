import type { Command } from 'commander';
import { basename, resolve } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import type { CreateOptions } from '../../api/contract/instances.js';
import { formatSize, parseCpus, parseSize } from '../../core/units.js';
import { containerJson, statusText } from '../../api/docker-view/container.js';
import type { Instance } from '../../core/instance.js';
import type { Client } from '../client.js';
import { collect, enc, exitWith, forEachRef, getCtx } from '../context.js';
import { ago, printJson, printList, table } from '../format.js';
import { inspectRefs } from '../inspect-refs.js';
import { VM_HEADERS, vmContext } from '../view/list-contexts.js';
import { readEvents } from '../progress-view.js';
import { consoleSize, relay } from '../stdio.js';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { Transform } from 'node:stream';
import { ProgressView } from '../progress-view.js';
import { registerDisk } from './vm-disk.js';

interface VmSummary {
  id: string;
  name: string;
  type: string;
  image: string;
  status: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  createdAt: string;
}

const VM_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.State}}\t{{.RunningFor}}';

/**
 * The VM a name or id (or a unique id prefix) means, as the daemon finds
 * instances: `no such VM` when there is none, and a container's name is
 * refused (the container verbs are for it), before anything is done.
 */
export async function vmId(client: Client, ref: string, verb = 'inspect'): Promise<string> {
  const find = (xs: Array<{ id: string; name: string }>) => {
    const exact = xs.find((x) => x.name === ref || x.id === ref);
    if (exact) return exact;
    const byPrefix = /^[0-9a-f]{3,64}$/.test(ref) ? xs.filter((x) => x.id.startsWith(ref)) : [];
    if (byPrefix.length > 1) throw new Error(`"${ref}" matches ${byPrefix.length} VMs: use more of the id`);
    return byPrefix[0];
  };
  const vm = find(await client.call<VmSummary[]>('GET', '/v1/vms?all=1'));
  if (vm) return vm.id;
  const other = find(await client.call<VmSummary[]>('GET', '/v1/containers?all=1'));
  if (other) throw new Error(`${other.name} is a container, not a VM (hull ${verb} ${other.name} is for it)`);
  throw new Error(`no such VM: ${ref}`);
}

interface VmImageRow {
  id: string;
  name: string;
  format: string;
  boot: string;
  virtualSize: number;
  sizeOnDisk: number;
  createdAt: string;
}

/** Ctrl-], as telnet's escape: leaves `hull vm console` with the VM running. */
const DETACH = 0x1d;

/**
 * `hull vm …`: VMs are instances, so the lifecycle verbs use the same
 * /v1/containers/{ref}/… routes as containers; create, inspect, snapshots and
 * images are /v1/vms and /v1/vm-images.
 */
export function register(program: Command): void {
  const client = () => getCtx(program.opts().host).client;
  const vm = program.command('vm').description('manage virtual machines');

  vm.command('create')
    .description('create a VM: a linked clone of a VM image, configured at first boot')
    .option('--name <name>', 'the VM name (shared with containers)')
    .option('--cpus <n>', 'vCPUs (rounded up; default 1)')
    .option('-m, --memory <size>', 'guest memory (e.g. 512m; default 256m)')
    .option('--disk <size>', "disk size (e.g. 4g; default: the image's)")
    .option('--image <image>', 'VM image name or id', 'debian-min')
    .option('--hostname <name>', 'guest hostname (default: the VM name)')
    .option('--user-script <script>', 'shell commands the guest runs once, at first boot')
    .option('--ssh-key <key-or-file>', 'an SSH public key, or a file of them (e.g. ~/.ssh/id_ed25519.pub), for the default user of a cloud-init guest (repeatable)', collect)
    .option('--password <password>', "the default user's password in a cloud-init guest (kept only as a SHA-512 crypt hash)")
    .option('--password-file <file>', 'read that password from the first line of a file')
    .option('--user-data <file>', "your own cloud-init user-data (#cloud-config, a #! script, MIME multipart), given verbatim instead of Hull's")
    .option('--network <name>', 'join a network (repeatable; default hull0); none: no network card', collect)
    .option('--network-alias <alias>', 'another name the VM answers to on its networks (repeatable)', collect)
    .option('--ip <address>', 'IPv4 address on the first network')
    .option('--disk-volume <volume>', 'attach a block volume as a disk (repeatable; hull volume create --driver block)', collect)
    .action(async (o: VmCreateFlags) => {
      const body = {
        name: o.name,
        image: o.image,
        cpus: o.cpus === undefined ? undefined : parseCpus(o.cpus),
        memoryBytes: o.memory === undefined ? undefined : parseSize(o.memory),
        diskBytes: o.disk === undefined ? undefined : parseSize(o.disk),
        hostname: o.hostname,
        userScript: o.userScript,
        ...firstBoot(o),
        networks: o.network,
        networkAliases: o.networkAlias ?? [],
        ip: o.ip,
        diskVolumes: o.diskVolume ?? [],
      };
      const { id } = await client().call<{ id: string }>('POST', '/v1/vms', body);
      process.stdout.write(`${id}\n`);
    });

  const each = (verb: string, desc: string, path: (ref: string, o: Record<string, string>) => [string, string], configure?: (c: Command) => Command) => {
    let cmd = vm.command(verb).description(desc).argument('<vm...>');
    if (configure) cmd = configure(cmd);
    cmd.action(async (refs: string[], opts: Record<string, string>) => {
      await forEachRef(refs, async (ref) => {
        const [method, url] = path(await vmId(client(), ref, verb === 'resume' ? 'unpause' : verb), opts);
        await client().call(method, url);
        process.stdout.write(`${ref}\n`);
      });
    });
  };
  const t = (c: Command) => c.option('-t, --time <seconds>', 'seconds to wait for the guest to power off before cutting the power', '10');
  vm.command('start')
    .description('start VMs')
    .argument('<vm...>')
    .option('--wait', 'return once each guest has booted, configured itself and its agent answers')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '120')
    .action(async (refs: string[], o: { wait?: boolean; timeout: string }) => {
      await forEachRef(refs, async (ref) => {
        const id = await vmId(client(), ref, 'start');
        await client().call('POST', `/v1/containers/${id}/start`);
        if (o.wait) await client().call('POST', `/v1/vms/${id}/wait-ready?timeout=${enc(o.timeout)}`);
        process.stdout.write(`${ref}\n`);
      });
    });
  each('stop', 'stop VMs: ACPI power button, then a forced quit after --time', (r, o) => ['POST', `/v1/containers/${enc(r)}/stop?t=${enc(o.time)}`], t);
  each('restart', 'restart VMs', (r, o) => ['POST', `/v1/containers/${enc(r)}/restart?t=${enc(o.time)}`], t);
  each('kill', 'kill VMs (KILL: power cut; TERM: power button)', (r, o) => ['POST', `/v1/containers/${enc(r)}/kill?signal=${enc(o.signal)}`], (c) => c.option('-s, --signal <signal>', 'signal', 'SIGKILL'));
  each('pause', 'pause VMs (vCPUs stopped)', (r) => ['POST', `/v1/containers/${enc(r)}/pause`]);
  each('resume', 'resume paused VMs', (r) => ['POST', `/v1/containers/${enc(r)}/unpause`]);
  each('rm', 'remove VMs and their disks', (r, o) => ['DELETE', `/v1/containers/${enc(r)}${o.force ? '?force=1' : ''}`], (c) => c.option('-f, --force', 'power off and remove a running VM'));

  vm.command('ls')
    .alias('list')
    .description('list VMs (running ones; -a for all)')
    .option('-a, --all', 'show all VMs')
    .option('-q, --quiet', 'only ids')
    .option('--no-trunc', 'do not truncate ids')
    .option('--format <format>', "table (default), json (Hull's JSON), or a Go template: '{{.Name}} {{.Status}}', 'table {{.Name}}\\t{{.State}}'")
    .action(async (o: { all?: boolean; quiet?: boolean; trunc?: boolean; format?: string }) => {
      const xs = await client().call<VmSummary[]>('GET', `/v1/vms${o.all ? '?all=1' : ''}`);
      const trunc = o.trunc !== false;
      if (o.quiet) return void process.stdout.write(xs.map((x) => `${trunc ? x.id.slice(0, 12) : x.id}\n`).join(''));
      const now = Date.now();
      printList({ format: o.format, items: xs, rows: () => xs.map((x) => vmContext({ ...x, statusText: statusText(x, now) }, { trunc, now })), headers: VM_HEADERS, table: VM_TABLE });
    });

  vm.command('inspect')
    .description('show VMs as JSON (the record, the machine, the accelerator)')
    .argument('<vm...>')
    .option('-f, --format <format>', "json (default: Hull's records) or a Go template over docker's container document plus Hull's fields, e.g. '{{.State.Status}} {{.vm.accel}}'")
    .action(async (refs: string[], o: { format?: string }) => {
      await inspectRefs(refs, o.format, async (ref) => {
        const v = await client().call<Instance>('GET', `/v1/vms/${await vmId(client(), ref)}`);
        return { hull: v, docker: containerJson(v) };
      });
    });

  vm.command('console')
    .description('attach to the serial console (raw); detach with Ctrl-] (the VM keeps running)')
    .argument('<vm>')
    .action(async (ref: string) => {
      const socket = await client().upgrade(`/v1/containers/${await vmId(client(), ref, 'attach')}/attach?stdin=1`);
      if (process.stdin.isTTY) process.stderr.write('Connected to the serial console. Detach with Ctrl-].\r\n');
      await consoleRelay(socket);
      exitWith(0);
    });

  vm.command('exec')
    .description('run a command in the guest through its agent (output streams as it comes)')
    .argument('<vm>')
    .argument('<command...>')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', (v: string, p: string[] = []) => [...p, v], [])
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user>', 'user to run as')
    .passThroughOptions()
    .action(async (ref: string, command: string[], o: { interactive?: boolean; tty?: boolean; env: string[]; workdir?: string; user?: string }) => {
      const c = client();
      const [tty, stdin] = [!!o.tty, !!o.interactive];
      // commander keeps the `--` of `vm exec -t VM -- CMD` (an option before VM) in the command.
      if (command[0] === '--') command = command.slice(1);
      const { id } = await c.call<{ id: string }>('POST', `/v1/containers/${await vmId(c, ref, 'exec')}/exec`, { cmd: command, env: o.env, workingDir: o.workdir ?? '', user: o.user ?? '', tty, stdin, ...consoleSize(tty) });
      const resize = (rows: number, cols: number) => void c.call('POST', `/v1/exec/${id}/resize?h=${rows}&w=${cols}`).catch(() => undefined);
      await relay(await c.upgrade(`/v1/exec/${id}/start`), { tty, stdin, onResize: tty ? resize : undefined });
      const r = await c.call<{ exitCode: number | null }>('GET', `/v1/exec/${id}`);
      exitWith(r.exitCode ?? 125);
    });

  registerDisk(vm, client);

  const snap = vm.command('snapshot').description("manage a VM's snapshots (running: memory + disk; stopped: disk only)");
  snap
    .command('create')
    .argument('<vm>')
    .argument('<snapshot>')
    .description('take a snapshot')
    .action(async (ref: string, name: string) => {
      await client().call('POST', `/v1/vms/${enc(ref)}/snapshots`, { name });
      process.stdout.write(`${name}\n`);
    });
  snap
    .command('ls')
    .alias('list')
    .argument('<vm>')
    .description("list a VM's snapshots")
    .option('--format <format>', 'table (default) or json')
    .action(async (ref: string, o: { format?: string }) => {
      const xs = await client().call<Array<{ name: string; kind: string; createdAt: string; vmStateSize: number }>>('GET', `/v1/vms/${enc(ref)}/snapshots`);
      if (o.format === 'json') return printJson(xs);
      process.stdout.write(`${table(['NAME', 'KIND', 'CREATED', 'MEMORY'], xs.map((x) => [x.name, x.kind, ago(x.createdAt), x.vmStateSize ? formatSize(x.vmStateSize) : '-']))}\n`);
    });
  snap
    .command('restore')
    .argument('<vm>')
    .argument('<snapshot>')
    .description('go back to a snapshot (a running VM needs --force and a full snapshot)')
    .option('--force', 'restore on a running VM')
    .action(async (ref: string, name: string, o: { force?: boolean }) => {
      await client().call('POST', `/v1/vms/${enc(ref)}/snapshots/${enc(name)}/restore${o.force ? '?force=1' : ''}`);
      process.stdout.write(`${name}\n`);
    });
  snap
    .command('rm')
    .argument('<vm>')
    .argument('<snapshot>')
    .description('delete a snapshot')
    .action(async (ref: string, name: string) => {
      await client().call('DELETE', `/v1/vms/${enc(ref)}/snapshots/${enc(name)}`);
      process.stdout.write(`${name}\n`);
    });

  const image = vm.command('image').description('manage VM images (base disks)');
  image
    .command('import')
    .description('import a qcow2, raw or ISO file: its bytes are uploaded to the daemon (as docker load); - reads stdin')
    .argument('<file>')
    .requiredOption('--name <name>', 'the image name')
    .option('--boot <mode>', "firmware (the disk's own bootloader; default) or hull (Hull's kernel, ext4 root)")
    .option('--from-host-path', "no upload: the daemon reads FILE on its own host (an admin's shortcut; a qcow2's backing chain is flattened)")
    .option('-q, --quiet', 'no progress bar')
    .action(async (file: string, o: { name: string; boot?: string; fromHostPath?: boolean; quiet?: boolean }) => {
      if (o.fromHostPath) {
        const img = await client().call<VmImageRow>('POST', '/v1/vm-images/import', { path: resolve(file), name: o.name, boot: o.boot });
        return void process.stdout.write(`${img.id}\n`);
      }
      const size = file === '-' ? undefined : fileSize(file);
      const q = new URLSearchParams({ name: o.name, ...(o.boot ? { boot: o.boot } : {}), ...(size !== undefined ? { size: String(size) } : {}) });
      const input = file === '-' ? process.stdin : createReadStream(file);
      const body = o.quiet || !process.stderr.isTTY ? input : input.pipe(uploadProgress(file === '-' ? 'stdin' : basename(file), size));
      const res = await client().stream('POST', `/v1/vm-images?${q}`, body, 'application/octet-stream');
      let text = '';
      for await (const c of res) text += (c as Buffer).toString();
      process.stdout.write(`${(JSON.parse(text) as VmImageRow).id}\n`);
    });
  image
    .command('ls')
    .alias('list')
    .description('list VM images')
    .option('-q, --quiet', 'only ids')
    .option('--format <format>', 'table (default) or json')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const xs = await client().call<VmImageRow[]>('GET', '/v1/vm-images');
      if (o.quiet) return void process.stdout.write(xs.map((x) => `${x.id.slice(0, 12)}\n`).join(''));
      if (o.format === 'json') return printJson(xs);
      const rows = xs.map((x) => [x.id.slice(0, 12), x.name, x.format, x.boot, formatSize(x.virtualSize), formatSize(x.sizeOnDisk), ago(x.createdAt)]);
      process.stdout.write(`${table(['IMAGE ID', 'NAME', 'FORMAT', 'BOOT', 'VIRTUAL SIZE', 'ON DISK', 'CREATED'], rows)}\n`);
    });
  image
    .command('rm')
    .description('remove VM images (refused while a VM uses one)')
    .argument('<image...>')
    .action(async (refs: string[]) => {
      await forEachRef(refs, async (r) => {
        await client().call('DELETE', `/v1/vm-images/${enc(r)}`);
        process.stdout.write(`${r}\n`);
      });
    });
}

interface VmCreateFlags {
  name?: string;
  cpus?: string;
  memory?: string;
  disk?: string;
  image: string;
  hostname?: string;
  userScript?: string;
  sshKey?: string[];
  password?: string;
  passwordFile?: string;
  userData?: string;
  network?: string[];
  networkAlias?: string[];
  ip?: string;
  diskVolume?: string[];
}

/** cloud-init's part of `vm create`: files are read here, on the client's side; the daemon checks what they hold. */
function firstBoot(o: VmCreateFlags): { sshKeys?: string[]; password?: string; userData?: string } {
  if (o.password !== undefined && o.passwordFile !== undefined) throw new Error('give --password or --password-file, not both');
  const password = o.passwordFile !== undefined ? readText(o.passwordFile, '--password-file').split(/\r?\n/)[0] : o.password;
  if (password === '') throw new Error('the password is empty');
  const sshKeys = (o.sshKey ?? []).flatMap(sshKeysOf);
  const userData = o.userData === undefined ? undefined : readText(o.userData, '--user-data');
  return { sshKeys: sshKeys.length ? sshKeys : undefined, password, userData };
}

/** A key given inline, or a file of keys (authorized_keys style: blank lines and # comments skipped). */
function sshKeysOf(v: string): string[] {
  if (/^(ssh-|ecdsa-|sk-)\S+\s/.test(v)) return [v.trim()];
  const keys = readText(v, '--ssh-key').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (!keys.length) throw new Error(`--ssh-key ${v}: the file holds no key`);
  return keys;
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path.replace(/^~(?=\/)/, homedir()), 'utf8');
  } catch (e) {
    throw new Error(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

function fileSize(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new Error(`${path}: no such file`);
  if (!st.isFile()) throw new Error(`${path}: not a regular file`);
  return st.size;
}

/** Counts the bytes going up and draws a bar on stderr (a terminal), at most 10 times a second. */
function uploadProgress(id: string, total: number | undefined): Transform {
  const view = new ProgressView(process.stderr as NodeJS.WriteStream, true);
  let current = 0;
  let last = 0;
  const draw = (status: string) => view.handle({ type: 'layer', id, status, current, total });
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      current += chunk.length;
      if (Date.now() - last > 100) {
        last = Date.now();
        draw('Uploading');
      }
      done(null, chunk);
    },
    flush(done) {
      draw('Uploaded, checking');
      done();
    },
  });
}

/** The raw console both ways; Ctrl-] on stdin detaches. Resolves when either side ends. */
function consoleRelay(socket: Duplex): Promise<void> {
  return new Promise((done) => {
    const stdin = process.stdin;
    const raw = !!stdin.isTTY;
    if (raw) stdin.setRawMode(true);
    socket.on('data', (b: Buffer) => process.stdout.write(b));
    const finish = () => {
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      socket.destroy();
      done();
    };
    stdin.on('data', (b: Buffer) => {
      const i = b.indexOf(DETACH);
      if (i >= 0) {
        if (i > 0) socket.write(b.subarray(0, i));
        return finish();
      }
      socket.write(b);
    });
    stdin.resume();
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

/** `hull run --isolation vm`: the daemon runs the image's program in a VM of its own and streams its output; the exit code is the program's. */
