import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TestDaemon, waitFor } from '../helpers/hull.js';
import { startRegistry, type Registry } from '../helpers/registry.js';

/**
 * What a docker user hits in the first hour (issue 13, items 8–13), through
 * the real CLI against a real daemon: the built-in busybox kept, Go
 * templates and docker's field names, ps filters, top with ps options,
 * -e from the client, --cpus checked, one error convention, events, and the
 * messages that were wrong.
 */
process.env.HULL_VM_ACCEL = 'tcg';
const guestBuilt = existsSync(join(REPO, 'build', 'guest', 'guest.json'));

let d: TestDaemon;
let work: string;
beforeAll(async () => {
  d = await TestDaemon.start();
  work = await mkdtemp('/tmp/hull-parity-');
}, 60_000);
afterAll(async () => {
  await d?.destroy();
  await rm(work, { recursive: true, force: true });
}, 60_000);

describe('item 8: the built-in busybox', () => {
  it('image prune -a keeps it and says so; after rmi, run busybox brings it back without a registry', async () => {
    const pruned = await d.ok(['image', 'prune', '-a', '-f']);
    expect(pruned).toContain('kept: busybox:latest (built in)');
    expect(await d.ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toBe('busybox:latest\n');
    await d.ok(['rmi', 'busybox']);
    expect(await d.ok(['images', '-q'])).toBe('');
    const r = await d.hull(['run', '--rm', 'busybox', 'echo', 'back']);
    expect(r.stderr).toBe(''); // no "Unable to find image", no pull
    expect(r.stdout).toBe('back\n');
    expect(r.code).toBe(0);
    expect(await d.ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toBe('busybox:latest\n');
  });
});

describe('item 9: Go templates, docker field names, --format on every listing and inspecting verb', () => {
  beforeAll(async () => {
    await d.ok(['network', 'create', '--label', 'team=a', 'backend']);
    await d.ok(['run', '-d', '--name', 'web', '-l', 'tier=front', '-p', '18080:80', '--network', 'backend', '-e', 'A=1', 'busybox', 'sleep', '300']);
  });

  it('ps: .ID .Names .Image .Status .Ports .Labels .Label .Networks .Command .State, and the table directive', async () => {
    const out = await d.ok(['ps', '--format', '{{.ID}}|{{.Names}}|{{.Image}}|{{.Status}}|{{.Ports}}|{{.Labels}}|{{.Label "tier"}}|{{.Networks}}|{{.Command}}|{{.State}}|{{.Type}}']);
    expect(out).toMatch(/^[0-9a-f]{12}\|web\|busybox\|Up (Less than a second|\d+ seconds?)\|0\.0\.0\.0:18080->80\/tcp\|tier=front\|front\|backend\|"sleep 300"\|running\|container\n$/);
    expect(await d.ok(['ps', '--format', 'table {{.Names}}\\t{{.Ports}}'])).toBe('NAMES     PORTS\nweb       0.0.0.0:18080->80/tcp\n');
    expect(await d.ok(['ps', '--format', 'table {{.ID}}\\t{{.Names}}'])).toMatch(/^CONTAINER ID   NAMES\n[0-9a-f]{12}   web\n$/);
    expect(await d.ok(['ps', '--format', '{{json .Names}} {{upper .State}} {{len .Labels}}'])).toBe('"web" RUNNING 10\n');
    expect((await d.ok(['ps'])).split('\n')[0]).toMatch(/^CONTAINER ID +TYPE +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/);
  });

  it('an unknown field is an error as docker\'s, never <no value> or the template echoed back', async () => {
    const ps = await d.hull(['ps', '--format', '{{.Foo}}']);
    expect(ps.code).toBe(1);
    expect(ps.stdout).toBe('');
    expect(ps.stderr).toBe('Error: failed to execute template: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext\n');
    const insp = await d.hull(['inspect', '-f', '{{.State.Nope}}', 'web']);
    expect(insp.code).toBe(1);
    expect(insp.stdout).toBe('\n');
    expect(insp.stderr).toBe('Error: template parsing error: template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"\n');
    const bad = await d.hull(['inspect', '-f', '{{.State', 'web']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toBe('Error: template parsing error: template: :1: unclosed action\n');
    // A label that is not there is a map key, not a field: docker prints <no value>, and so does Hull.
    expect(await d.ok(['inspect', '-f', '{{.Config.Labels.nope}}|{{index .Config.Labels "nope"}}', 'web'])).toBe('<no value>|\n');
  });

  it("inspect: docker's document (State, NetworkSettings, Config, HostConfig, Name) beside Hull's record", async () => {
    const f = [
      '{{.State.Status}} {{.State.Running}} {{.Name}}',
      '{{.NetworkSettings.IPAddress}}',
      '{{range $n, $e := .NetworkSettings.Networks}}{{$n}}={{$e.IPAddress}}{{end}}',
      '{{json .NetworkSettings.Networks.backend.Aliases}}',
      '{{.Config.Image}} {{json .Config.Labels}} {{range .Config.Env}}{{if eq . "A=1"}}{{.}}{{end}}{{end}}',
      '{{.HostConfig.RestartPolicy.Name}} {{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}}',
      '{{printf "%.12s" .Id}} {{len .Args}} {{join .Args ","}} {{.Path}}',
      '{{.type}} {{.config.hostname}} {{.state.status}}',
    ].join('\n');
    const [one, ip, nets, aliases, cfg, host, ids, hull] = (await d.ok(['inspect', '-f', f, 'web'])).trimEnd().split('\n');
    expect(one).toBe('running true /web');
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(nets).toBe(`backend=${ip}`);
    expect(aliases).toBe('[]');
    expect(cfg).toMatch(/^busybox \{"tier":"front"\} A=1$/);
    expect(host).toBe('no 18080');
    expect(ids).toMatch(/^[0-9a-f]{12} 1 300 sleep$/);
    expect(hull).toMatch(/^container [0-9a-f]{12} running$/);
  });

  it('--format json (Hull\'s JSON) and templates on images, image inspect, network ls and inspect, version, info, stats', async () => {
    expect(JSON.parse(await d.ok(['images', '--format', 'json']))[0].tags).toEqual(['busybox:latest']);
    expect(await d.ok(['images', '--format', '{{.Repository}} {{.Tag}} {{len .ID}}'])).toBe('busybox latest 12\n');
    expect(await d.ok(['images', '--format', 'table {{.Repository}}\\t{{.Tag}}'])).toBe('REPOSITORY   TAG\nbusybox      latest\n');
    expect(JSON.parse(await d.ok(['image', 'inspect', '--format', 'json', 'busybox']))[0].tags).toEqual(['busybox:latest']);
    expect(await d.ok(['image', 'inspect', '-f', '{{.Os}}/{{index .RepoTags 0}} {{.RootFS.Type}} {{.architecture}}', 'busybox'])).toMatch(/^linux\/busybox:latest layers \w+\n$/);
    expect(JSON.parse(await d.ok(['network', 'ls', '--format', 'json'])).map((n: { name: string }) => n.name).sort()).toEqual(['backend', 'hull0']);
    expect(await d.ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Label "team"}}'])).toMatch(/backend bridge a\n/);
    expect(await d.ok(['network', 'inspect', '-f', '{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{len .Containers}} {{.Labels.team}}', 'backend'])).toMatch(/^backend \d+\.\d+\.\d+\.\d+\/\d+ 1 a\n$/);
    expect(JSON.parse(await d.ok(['network', 'inspect', '--format', 'json', 'backend']))[0].name).toBe('backend');
    expect(await d.ok(['version', '--format', '{{.Server.Version}} {{.Client.Version}} {{.apiVersion}}'])).toMatch(/^\d+\.\d+\.\d+ \d+\.\d+\.\d+ v1\n$/);
    expect(JSON.parse(await d.ok(['version', '--format', 'json'])).apiVersion).toBe('v1');
    expect(await d.ok(['info', '--format', '{{.ContainersRunning}} {{.Images}} {{gt .NCPU 0}} {{.CgroupVersion}} {{.cgroupMode}}'])).toMatch(/^1 1 true [12] (v1|v2|hybrid)\n$/);
    expect(JSON.parse(await d.ok(['info', '--format', 'json'])).containers.running).toBe(1);
    expect(await d.ok(['stats', '--no-stream', '--format', '{{.Name}} {{.MemCounted}} {{.PIDs}}', 'web'])).toBe('web cgroup 1\n');
    expect(JSON.parse(await d.ok(['stats', '--no-stream', '--format', 'json', 'web']))[0]).toMatchObject({ name: 'web', memoryCounted: 'cgroup' });
  });

  it.skipIf(!guestBuilt)('vm ls and vm inspect take json and templates too', async () => {
    await d.ok(['vm', 'create', '--name', 'tpl-vm', '--disk', '512m']);
    expect(await d.ok(['vm', 'ls', '-a', '--format', '{{.Name}} {{.State}} {{.Status}}'])).toBe('tpl-vm created Created\n');
    expect(JSON.parse(await d.ok(['vm', 'ls', '-a', '--format', 'json']))[0].name).toBe('tpl-vm');
    expect(await d.ok(['vm', 'inspect', '-f', '{{.Name}} {{.State.Status}} {{.type}} {{.HostConfig.Isolation}}', 'tpl-vm'])).toBe('/tpl-vm created vm vm\n');
    expect(JSON.parse(await d.ok(['vm', 'inspect', '--format', 'json', 'tpl-vm']))[0].type).toBe('vm');
    await d.ok(['vm', 'rm', 'tpl-vm']);
  });
});

describe('item 10: ps --filter, top with ps options, -e from the client, --cpus checked', () => {
  beforeAll(async () => {
    expect((await d.hull(['run', '--name', 'gone', '-l', 'tier=batch', 'busybox', 'sh', '-c', 'exit 3'])).code).toBe(3);
  });

  it('ps --filter name, label, status, ancestor, network, id (status lists stopped ones without -a)', async () => {
    const names = async (...f: string[]) => (await d.ok(['ps', ...f.flatMap((x) => ['--filter', x]), '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();
    expect(await names('name=we')).toEqual(['web']);
    expect(await names('name=^gon')).toEqual([]); // not running
    expect(await names('status=exited')).toEqual(['gone']);
    expect(await names('label=tier')).toEqual(['web']);
    expect(await names('label=tier=batch', 'status=exited')).toEqual(['gone']);
    expect(await names('ancestor=busybox')).toEqual(['web']);
    expect(await names('network=backend')).toEqual(['web']);
    const id = (await d.ok(['inspect', '-f', '{{.Id}}', 'gone'])).trim();
    expect(await names(`id=${id.slice(0, 8)}`, 'status=exited')).toEqual(['gone']);
    expect((await d.ok(['ps', '-a', '--filter', 'exited=3', '--format', '{{.Names}} {{.Status}}'])).trim()).toMatch(/^gone Exited \(3\) /);
    const bad = await d.hull(['ps', '--filter', 'colour=red']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: invalid filter 'colour'/);
    const malformed = await d.hull(['ps', '--filter', 'name']);
    expect(malformed.code).toBe(125);
    expect(malformed.stderr).toBe("Error: option '-f, --filter <key=value>' argument 'name' is invalid. bad format of filter (expected name=value)\nSee 'hull ps --help'.\n");
  });

  it("top takes ps options: the host's ps columns, the container's processes only", async () => {
    expect(await d.ok(['top', 'web', '-o', 'pid,comm'])).toMatch(/^PID +COMMAND\n\d+ +sleep\n$/);
    const aux = (await d.ok(['top', 'web', 'aux'])).split('\n');
    expect(aux[0]).toMatch(/^USER +PID +%CPU +%MEM .* COMMAND$/);
    expect(aux.filter(Boolean)).toHaveLength(2);
    expect(aux[1]).toMatch(/sleep 300$/);
    const noPid = await d.hull(['top', 'web', '-o', 'comm']);
    expect(noPid.code).toBe(1);
    expect(noPid.stderr).toMatch(/no PID column/);
  });

  it('-e VAR takes the value from the client\'s environment, and is dropped when it is unset there', async () => {
    process.env.HULL_PARITY_SET = 'from-client';
    delete process.env.HULL_PARITY_UNSET;
    try {
      const out = await d.ok(['run', '--name', 'envy', '-e', 'HULL_PARITY_SET', '-e', 'HULL_PARITY_UNSET', '-e', 'HULL_PARITY_GIVEN=x', 'busybox', 'sh', '-c', 'env | grep ^HULL_PARITY | sort']);
      expect(out).toBe('HULL_PARITY_GIVEN=x\nHULL_PARITY_SET=from-client\n');
      // Not even kept as a bare name in the record (a runtime may or may not drop it).
      const env = JSON.parse(await d.ok(['inspect', '-f', '{{json .Config.Env}}', 'envy'])) as string[];
      expect(env.filter((e) => e.startsWith('HULL_PARITY'))).toEqual(['HULL_PARITY_SET=from-client', 'HULL_PARITY_GIVEN=x']);
      await d.ok(['rm', 'envy']);
    } finally {
      delete process.env.HULL_PARITY_SET;
    }
  });

  it("--cpus beyond the host's CPUs is refused before anything is made", async () => {
    const r = await d.hull(['run', '--name', 'greedy', '--cpus', '4096', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^Error: range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available\n$/);
    expect((await d.hull(['inspect', 'greedy'])).code).toBe(1);
  });
});

describe('item 11: one error convention', () => {
  it('a usage error: one line and a hint on stderr, exit 125, no help text', async () => {
    for (const [args, line, hint] of [
      [['ps', '--nope'], "unknown option '--nope'", 'hull ps'],
      [['run'], "missing required argument 'image'", 'hull run'],
      [['network', 'ls', '--bad'], "unknown option '--bad'", 'hull network ls'],
      [['-H', 'unix:///nowhere', 'vm', 'snapshot', 'ls'], "missing required argument 'vm'", 'hull vm snapshot ls'],
      [['nosuchverb'], "unknown command 'nosuchverb'", 'hull'],
    ] as const) {
      const r = await d.hull([...args]);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`Error: ${line}\nSee '${hint} --help'.\n`);
    }
  });

  it('run failures: 125 (refused), 126 (not executable), 127 (not found), each as Error: …', async () => {
    const refused = await d.hull(['run', '--restart', 'sometimes', 'busybox', 'true']);
    expect([refused.code, refused.stderr]).toEqual([125, 'Error: invalid --restart "sometimes": use no, always, on-failure[:max] or unless-stopped\n']);
    const notFound = await d.hull(['run', '--rm', 'busybox', 'no-such-command']);
    expect(notFound.code).toBe(127);
    expect(notFound.stderr).toMatch(/^Error: /);
    const notExec = await d.hull(['run', '--rm', 'busybox', '/etc/passwd']);
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toMatch(/^Error: /);
    const daemonSide = await d.hull(['stop', 'no-such-container']);
    expect(daemonSide.code).toBe(1);
    expect(daemonSide.stderr).toMatch(/^Error: container "no-such-container"/);
  });
});

describe('item 12: hull events', () => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await startRegistry(join(work, 'registry'));
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('reports every action docker does, with docker\'s shape, and replays them with --since/--until', async () => {
    await d.ok(['create', '--name', 'ev', '-l', 'k=v', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
    await d.ok(['start', 'ev']);
    await d.ok(['exec', 'ev', 'true']);
    await d.ok(['pause', 'ev']);
    await d.ok(['unpause', 'ev']);
    await d.ok(['rename', 'ev', 'ev2']);
    await d.ok(['kill', '-s', 'TERM', 'ev2']);
    await waitFor(async () => (await d.state('ev2', 'Status')) === 'exited');
    await d.ok(['rm', 'ev2']);
    expect((await d.hull(['run', '--name', 'hog', '-m', '32m', 'busybox', 'sh', '-c', 'tail /dev/zero'])).code).toBe(137);
    await d.ok(['rm', 'hog']);
    await writeFile(join(work, 'Dockerfile'), 'FROM busybox\nRUN touch /made\n');
    await d.ok(['build', '-q', '-t', 'evimg:1', work], { timeoutMs: 120_000 });
    await d.ok(['rmi', 'evimg:1']);
    const ref = `${reg.host}/parity/busybox:1`;
    await d.ok(['tag', 'busybox', ref]);
    await d.ok(['push', '-q', ref]);
    await d.ok(['rmi', ref]);
    await d.ok(['pull', '-q', ref]);
    await d.ok(['rmi', ref]);
    await d.ok(['network', 'create', 'evnet']);
    await d.ok(['create', '--name', 'evc', 'busybox', 'true']);
    await d.ok(['network', 'connect', 'evnet', 'evc']);
    await d.ok(['network', 'disconnect', 'evnet', 'evc']);
    await d.ok(['rm', 'evc']);
    await d.ok(['network', 'rm', 'evnet']);

    const lines = (await d.ok(['events', '--since', '5m', '--until', '0s', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'])).split('\n');
    const has = (l: string) => expect(lines, l).toContain(l);
    for (const l of ['create ev', 'start ev', 'pause ev', 'unpause ev', 'kill ev2', 'die ev2', 'destroy ev2', 'attach hog']) has(`container ${l}`);
    has('container exec_create: true ev');
    has('container exec_start: true ev');
    has('container exec_die ev');
    has('container rename ev2');
    has('container oom hog');
    for (const a of ['tag', 'push', 'untag', 'pull', 'delete']) expect(lines.some((l) => l.startsWith(`image ${a} `)), a).toBe(true);
    for (const a of ['create', 'connect', 'disconnect', 'destroy']) has(`network ${a} evnet`);

    // docker's text line and JSON shape; the rename carries the old name, the kill the signal, the die the exit code.
    const text = await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'container=ev2', '--filter', 'event=rename']);
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container rename [0-9a-f]{64} \(image=busybox, k=v, name=ev2, oldName=ev\)\n$/);
    const kill = JSON.parse(await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'event=kill', '--format', 'json']));
    expect(kill).toMatchObject({ status: 'kill', Type: 'container', Action: 'kill', Actor: { Attributes: { name: 'ev2', signal: '15' } }, scope: 'local' });
    expect(kill.timeNano).toBeGreaterThan(kill.time * 1e9 - 1);
    const die = await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'container=hog', '--filter', 'event=die', '--format', '{{.Actor.Attributes.exitCode}}']);
    expect(die).toBe('137\n');
    expect(await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'type=network', '--filter', 'network=evnet', '--format', '{{.Action}}'])).toBe('create\nconnect\ndisconnect\ndestroy\n');
    expect(await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'label=k=v', '--filter', 'event=destroy', '--format', '{{.Actor.Attributes.name}}'])).toBe('ev2\n');
    const badTpl = await d.hull(['events', '--since', '5m', '--until', '0s', '--format', '{{.Nope}}']);
    expect(badTpl.code).toBe(1);
    expect(badTpl.stderr).toMatch(/^Error: failed to execute template: .*can't evaluate field Nope in type events.Message/);
  });

  it('streams what happens until --until, then ends by itself', async () => {
    const streaming = d.hull(['events', '--until', '-4s', '--filter', 'container=live', '--format', '{{.Action}}'], { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    await d.ok(['run', '--rm', '--name', 'live', 'busybox', 'true']);
    const r = await streaming;
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'start', 'die', 'destroy']));
  });

  it.skipIf(!guestBuilt)('labels VMs as VMs', async () => {
    await d.ok(['vm', 'create', '--name', 'evvm', '--disk', '512m']);
    await d.ok(['vm', 'rm', 'evvm']);
    expect(await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'type=vm', '--filter', 'vm=evvm', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'])).toBe('vm create evvm\nvm destroy evvm\n');
    expect(await d.ok(['events', '--since', '5m', '--until', '0s', '--filter', 'container=evvm', '--format', '{{.Type}}'])).toBe('vm\nvm\n');
  });
});

describe('item 13: messages that were wrong', () => {
  it('run --help says what --isolation vm takes', async () => {
    const help = (await d.ok(['run', '--help'])).replace(/\n +/g, ' ');
    expect(help).toMatch(/--isolation <mode> +container \(default\), or vm: run the program in a small VM of its own, with its own kernel \(-t, -i, -p and networks work/);
    expect(help).not.toMatch(/no -t|no networks/);
  });

  it('vm start on a name that is no VM says so, and refuses a container', async () => {
    const none = await d.hull(['vm', 'start', 'nosuchvm']);
    expect([none.code, none.stdout, none.stderr]).toEqual([1, '', 'Error: no such VM: nosuchvm\n']);
    await d.ok(['create', '--name', 'box', 'busybox', 'true']);
    const box = await d.hull(['vm', 'start', 'box']);
    expect([box.code, box.stdout, box.stderr]).toEqual([1, '', 'Error: box is a container, not a VM (hull start box is for it)\n']);
    expect(await d.state('box', 'Status')).toBe('created');
    await d.ok(['rm', 'box']);
  });

  it.skipIf(!guestBuilt)('vm create --disk too small answers in sizes, not raw bytes', async () => {
    const r = await d.hull(['vm', 'create', '--name', 'tiny', '--disk', '1m']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: .*disk size 1MiB is smaller than the image's [\d.]+[KMG]iB: give at least [\d.]+[KMG]iB\n$/);
    expect(r.stderr).not.toMatch(/\d{7}/);
  });

  it('builder prune reports the layers it removed with their space, and none it did not find', async () => {
    const ctx = join(work, 'prune');
    await rm(ctx, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(ctx, { recursive: true }));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox AS stage\nRUN head -c 300000 /dev/urandom >/blob\nFROM busybox\nCOPY --from=stage /blob /blob\n');
    await d.ok(['build', '-q', '-t', 'prunable:1', ctx], { timeoutMs: 120_000 });
    await d.ok(['rmi', 'prunable:1']);
    const out = await d.ok(['builder', 'prune', '-f']);
    const m = /^Deleted build cache: (\d+) steps, (\d+) unpacked layers\nTotal reclaimed space: (\S+)\n$/.exec(out);
    expect(m, out).not.toBeNull();
    const [, , layers, space] = m!;
    // The stage's layer stays on disk after the rmi (no image had it); the final image's went with it.
    expect(Number(layers)).toBe(1);
    expect(space).toMatch(/^[\d.]+(KiB|MiB)$/);
    expect(parseFloat(space) * (space.endsWith('MiB') ? 1024 : 1)).toBeGreaterThan(300);
    expect(await d.ok(['builder', 'prune', '-f'])).toBe('Deleted build cache: 0 steps, 0 unpacked layers\nTotal reclaimed space: 0B\n');
  });

  it("times in docker's words: Less than a second, 1 second, never \"1 seconds\" (About a minute: see src/core/human.test.ts)", async () => {
    await d.ok(['create', '--name', 'fresh', 'busybox', 'true']);
    const t0 = Date.now();
    const seen = new Set<string>();
    while (Date.now() - t0 < 2500) {
      const row = (await d.ok(['ps', '-a'])).split('\n').find((l) => l.endsWith(' fresh'))!;
      seen.add(/ ((?:Less than a second|\d+ seconds?) ago) /.exec(row)?.[1] ?? row);
    }
    for (const s of seen) expect(s).toMatch(/^(Less than a second|1 second|[2-9] seconds) ago$/);
    await d.ok(['rm', 'fresh']);
  });

  it.skipIf(!guestBuilt)('stats of a VM-isolated container says what it counts; a restarted daemon re-adopts it as what it is', async () => {
    await d.ok(['run', '-d', '--name', 'iso', '--isolation', 'vm', '-m', '128m', 'busybox', 'sleep', '300'], { timeoutMs: 120_000 });
    const row = (await d.ok(['stats', '--no-stream', 'iso'])).split('\n')[1];
    expect(row).toMatch(/iso +[\d.]+% +[\d.]+[KMG]iB \(QEMU RSS\) \/ 128MiB \(guest RAM\) +-- +\d+/);
    expect(await d.ok(['stats', '--no-stream', '--format', '{{.MemCounted}}', 'iso'])).toBe('qemu-rss\n');
    await d.stop();
    await d.spawn();
    expect(d.logs).toContain('re-adopted a running VM-isolated container');
    expect(d.logs).not.toContain('re-adopted running container');
    await d.ok(['rm', '-f', 'iso'], { timeoutMs: 60_000 });
  }, 180_000);
});
