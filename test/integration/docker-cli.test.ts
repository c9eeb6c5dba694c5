import bcrypt from 'bcryptjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compat, dockerClients, dockerTty, ok, runDocker, startDockerDaemon, type DockerClient } from '../helpers/docker.js';
import { waitFor, type TestDaemon } from '../helpers/hull.js';
import { startRegistry, type Registry } from '../helpers/registry.js';

/**
 * The real docker CLI against Hull's Docker socket: every verb of the
 * issue's list, its output checked. Each client on the machine runs the
 * suite (docker 28's CLI, API 1.50; Debian's docker.io 20.10 client, API
 * 1.41, when set-up unpacked it).
 */
const clients = dockerClients();
const compat = new Compat('docker-cli', 'cli');
let d: TestDaemon;
let destroy: (() => Promise<void>) | undefined;
let sock: string;
let reg: Registry;
let work: string;
const USER = 'dockeruser';
const PASS = 'docker-pass-1';

beforeAll(async () => {
  if (!clients.length) return;
  work = await mkdtemp(join(tmpdir(), 'hull-docker-cli-'));
  const htpasswd = join(work, 'htpasswd');
  await writeFile(htpasswd, `${USER}:${bcrypt.hashSync(PASS, 4)}\n`);
  [{ daemon: d, sock, destroy }, reg] = await Promise.all([startDockerDaemon('cli'), startRegistry(join(work, 'reg'), { htpasswd: { realm: 'hull-test', path: htpasswd } })]);
});

afterAll(async () => {
  compat.save();
  await Promise.allSettled([destroy?.(), reg?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!clients.length).each(clients)('$name', (client: DockerClient) => {
  const docker = (args: string[], o: { input?: string; cwd?: string } = {}) => runDocker(client, sock, args, o);
  const must = (args: string[], o: { input?: string; cwd?: string } = {}) => ok(docker(args, o), `docker ${args.join(' ')}`);
  const tag = client.name.replace(/\W+/g, '');
  const covers = (...f: string[]) => compat.covers(client.name, ...f);

  it('version, info and system df describe the daemon', async () => {
    covers('docker version', 'docker info', 'docker system df');
    const v = await must(['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}']);
    expect(v.trim()).toMatch(/^\d+\.\d+\.\d+ 1\.\d+ 1\.24$/);
    const info = await must(['info', '--format', '{{.OperatingSystem}} {{.Driver}} {{.Swarm.LocalNodeState}} {{.Images}}']);
    expect(info.trim()).toMatch(/^Hull overlay2 inactive [1-9]\d*$/);
    const df = await must(['system', 'df']);
    expect(df).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+[1-9]/);
  });

  it('run --rm prints the output and gives the exit code, 127 for a missing program and 126 for one that cannot run', async () => {
    covers('docker run --rm', 'docker run (exit codes)', 'docker run --init');
    const hi = await docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    expect(hi).toMatchObject({ code: 0, stdout: 'hi\n' });
    const both = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(both).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const missing = await docker(['run', '--rm', 'busybox', 'no-such-program']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/executable file not found|no such file or directory/);
    const notExec = await docker(['run', '--rm', 'busybox', '/etc/passwd']);
    expect(notExec.code).toBe(126);
    // --init: tini as PID 1, the program's exit code passed through.
    const init = await docker(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'head -c 14 /proc/1/cmdline; exit 6']);
    expect(init).toMatchObject({ code: 6, stdout: '/run/hull-init' });
    const initc = (await must(['create', '--init', 'busybox', 'true'])).trim();
    expect((await must(['inspect', '-f', '{{.HostConfig.Init}} {{.Path}} {{.Args}}', initc])).trim()).toBe('true true []');
    await must(['rm', initc]);
    const input = await docker(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; exit 4'], { input: 'piped in\n' });
    expect(input).toMatchObject({ code: 4, stdout: 'piped in\n' });
    // --rm took them all away.
    expect((await must(['ps', '-aq', '--filter', 'ancestor=busybox', '--filter', 'status=exited'])).trim()).toBe('');
  });

  it('run -it is a shell on a terminal: its size, what is typed, and its exit code', async () => {
    covers('docker run -it', 'docker run (tty, resize)');
    const r = await dockerTty(client, sock, ['run', '-it', '--rm', 'busybox', 'sh'], [
      [800, 'stty size; tty\r'],
      [400, 'exit 7\r'],
    ]);
    expect(r.out).toContain('30 100');
    expect(r.out).toContain('/dev/pts/0');
    expect(r.code).toBe(7);
  });

  it('run -d with a name, port, env, labels, network and restart policy; ps --filter, inspect, logs, exec, top, stats, wait', async () => {
    covers('docker run -d', 'docker ps --filter', 'docker inspect', 'docker logs', 'docker exec', 'docker top', 'docker stats --no-stream', 'docker wait');
    const net = `appnet${tag}`;
    await must(['network', 'create', net]);
    const name = `web${tag}`;
    const id = (
      await must(['run', '-d', '--name', name, '-p', '127.0.0.1::80', '-e', 'A=1', '-l', `x=${tag}`, '-v', `web${tag}:/data`, '--network', net, '--restart', 'unless-stopped', 'busybox', 'sh', '-c', 'echo started; echo to-err >&2; exec httpd -f -p 80 -h /etc'])
    ).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect((await must(['ps', '-a', '--filter', `label=x=${tag}`, '--format', '{{.Names}} {{.State}}'])).trim()).toBe(`${name} running`);
    const port = (await must(['port', name, '80'])).trim();
    expect(port).toMatch(/^127\.0\.0\.1:\d+$/);
    const res = await fetch(`http://${port}/hostname`);
    expect((await res.text()).trim()).toBe(id.slice(0, 12));
    const ins = JSON.parse(await must(['inspect', name]))[0];
    expect(ins).toMatchObject({ Id: id, Name: `/${name}`, State: { Status: 'running', Running: true }, Config: { Env: expect.arrayContaining(['A=1']), Labels: { x: tag } }, HostConfig: { NetworkMode: net, RestartPolicy: { Name: 'unless-stopped' } } });
    expect(ins.NetworkSettings.Networks[net].IPAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const logs = await docker(['logs', name]);
    expect(logs).toMatchObject({ stdout: 'started\n', stderr: 'to-err\n' });
    const ts = await must(['logs', '--timestamps', '--since', '1m', name]);
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z started\n$/);
    const ex = await docker(['exec', '-e', 'B=2', name, 'sh', '-c', 'echo $A$B; exit 5']);
    expect(ex).toMatchObject({ code: 5, stdout: '12\n' });
    const top = await must(['top', name]);
    expect(top).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n.*httpd -f -p 80/);
    expect(await must(['top', name, '-o', 'pid,comm'])).toMatch(/^\s*PID\s+COMMAND\n\s*\d+\s+httpd\n$/);
    const stats = await must(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', name]);
    expect(stats.trim()).toBe(`${name} 1`);
    const waiting = docker(['wait', name]);
    await must(['kill', name]);
    expect((await waiting).stdout.trim()).toBe('137');
    await must(['rm', name]);
    await must(['network', 'rm', net]);
    await must(['volume', 'rm', `web${tag}`]);
  });

  it('health checks: --health-* flags, an image\'s HEALTHCHECK, --no-healthcheck; the status in ps, inspect, ps --filter and events', async () => {
    covers('docker run --health-*', 'HEALTHCHECK in images', 'docker ps (health)', 'docker ps --filter health=');
    const name = `hc${tag}`;
    const since = Math.floor(Date.now() / 1000) - 1;
    await must(['run', '-d', '--name', name, '--health-cmd', 'wget -qO- http://127.0.0.1/up', '--health-interval', '300ms', '--health-retries', '2', '--health-start-period', '10s', 'busybox', 'sh', '-c', 'mkdir /www; echo ok > /www/up; sleep 1; exec httpd -f -p 80 -h /www']);
    const status = async () => (await must(['ps', '--filter', `name=^${name}$`, '--format', '{{.Status}}'])).trim();
    expect(await status()).toMatch(/^Up .*\(health: starting\)$/);
    await waitFor(async () => /\(healthy\)$/.test(await status()), 15_000, 200);
    expect((await must(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])).split('\n')).toContain(name);
    const h = JSON.parse(await must(['inspect', '-f', '{{json .State.Health}}', name]));
    expect(h.Status).toBe('healthy');
    expect(h.Log.at(-1)).toMatchObject({ ExitCode: 0 });
    expect(JSON.parse(await must(['inspect', '-f', '{{json .Config.Healthcheck}}', name])).Test).toEqual(['CMD-SHELL', 'wget -qO- http://127.0.0.1/up']);
    await must(['exec', name, 'rm', '/www/up']);
    await waitFor(async () => /\(unhealthy\)$/.test(await status()), 15_000, 200);
    const ev = await must(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', `container=${name}`, '--filter', 'event=health_status', '--format', '{{.Action}}']);
    expect(ev.trim().split('\n')).toEqual(['health_status: healthy', 'health_status: unhealthy']);
    await must(['rm', '-f', name]);
    // An image's HEALTHCHECK runs unless --no-healthcheck says not to.
    const ctx = await mkdtemp(join(work, 'hc-'));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nHEALTHCHECK --interval=1s CMD true\nCMD ["sleep", "600"]\n');
    const img = `hcimg${tag}`;
    await must(['build', '-q', '-t', img, ctx]);
    await must(['run', '-d', '--name', `${name}i`, img]);
    await must(['run', '-d', '--name', `${name}n`, '--no-healthcheck', img]);
    // The shell form, as docker stores it.
    expect(JSON.parse(await must(['inspect', '-f', '{{json .Config.Healthcheck}}', `${name}i`])).Test).toEqual(['CMD-SHELL', 'true']);
    expect(await must(['inspect', '-f', '{{json .State.Health}}', `${name}n`])).toBe('null\n');
    await must(['rm', '-f', `${name}i`, `${name}n`]);
    await must(['rmi', img]);
  });

  it('logs -f follows until the container ends', async () => {
    covers('docker logs -f');
    const name = `follow${tag}`;
    await must(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.2; done']);
    const f = await docker(['logs', '-f', name]);
    expect(f).toMatchObject({ code: 0, stdout: 'line1\nline2\nline3\n' });
    await must(['rm', name]);
  });

  it('exec -it gives a shell on a terminal', async () => {
    covers('docker exec -it');
    const name = `sh${tag}`;
    await must(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    const r = await dockerTty(client, sock, ['exec', '-it', name, 'sh'], [
      [800, 'tty; echo in-$((6*7))\r'],
      [400, 'exit 3\r'],
    ]);
    expect(r.out).toContain('in-42');
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(3);
    // docker 23 and later send the terminal's size with the start (ConsoleSize): a command that reads it at once sees it
    // (on runc, which sets it before the command runs; crun 1.8 sets it beside the command's start).
    if (Number(client.name.match(/\d+/)?.[0]) >= 23) {
      await must(['run', '-d', '--runtime', 'runc', '--name', `${name}-runc`, 'busybox', 'sleep', '600']);
      expect((await dockerTty(client, sock, ['exec', '-it', `${name}-runc`, 'stty', 'size'], [])).out).toContain('30 100');
      await must(['rm', '-f', `${name}-runc`]);
    }
    await must(['rm', '-f', name]);
  });

  it('stop, start, restart, kill, pause, unpause, rename, update --memory and rm -f change the container as docker does', async () => {
    covers('docker stop', 'docker start', 'docker restart', 'docker kill', 'docker pause', 'docker unpause', 'docker rename', 'docker update', 'docker rm -f');
    const name = `life${tag}`;
    await must(['run', '-d', '--name', `old${tag}`, 'busybox', 'sleep', '600']);
    await must(['rename', `old${tag}`, name]);
    expect((await docker(['rename', name, name])).code).not.toBe(0);
    const state = async () => (await must(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).trim();
    await must(['stop', '-t', '1', name]);
    expect(await state()).toBe('exited 137');
    await must(['start', name]);
    expect(await state()).toBe('running 0');
    const before = (await must(['inspect', '-f', '{{.State.StartedAt}}', name])).trim();
    await must(['restart', '-t', '0', name]);
    expect((await must(['inspect', '-f', '{{.State.StartedAt}}', name])).trim()).not.toBe(before);
    await must(['pause', name]);
    expect(await state()).toBe('paused 0');
    await must(['unpause', name]);
    await must(['update', '--memory', '64m', '--memory-swap', '64m', name]);
    expect((await must(['inspect', '-f', '{{.HostConfig.Memory}}', name])).trim()).toBe(String(64 * 1024 * 1024));
    await must(['kill', '-s', 'TERM', name]);
    const rmRunning = await docker(['rm', name]);
    // busybox sleep as PID 1 ignores TERM: still running, and rm without -f refuses.
    expect(rmRunning.code).not.toBe(0);
    expect(rmRunning.stderr).toMatch(/stop the container before removing or force remove/);
    await must(['rm', '-f', name]);
    expect((await docker(['inspect', name])).stderr).toMatch(/No such object|No such container/);
  });

  it('cp copies into and out of a container, files and directories', async () => {
    covers('docker cp');
    const name = `cp${tag}`;
    const dir = await mkdtemp(join(work, 'cp-'));
    await writeFile(join(dir, 'in.txt'), 'copied in\n');
    await must(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    await must(['cp', join(dir, 'in.txt'), `${name}:/tmp/`]);
    expect(await must(['exec', name, 'cat', '/tmp/in.txt'])).toBe('copied in\n');
    await must(['exec', name, 'sh', '-c', 'mkdir -p /data/sub && echo deep > /data/sub/f']);
    await must(['cp', `${name}:/data`, join(dir, 'out')]);
    expect(await readFile(join(dir, 'out', 'sub', 'f'), 'utf8')).toBe('deep\n');
    const missing = await docker(['cp', `${name}:/nope`, join(dir, 'x')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/not found|No such/);
    await must(['rm', '-f', name]);
  });

  it('events --since replays what happened, in docker’s words', async () => {
    covers('docker events');
    const name = `ev${tag}`;
    const since = Math.floor(Date.now() / 1000) - 1;
    await must(['run', '--name', name, 'busybox', 'true']);
    await must(['rm', name]);
    const ev = await must(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', `container=${name}`, '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
    const actions = ev.trim().split('\n').map((l) => l.split(' ')[1]);
    expect(actions).toEqual(expect.arrayContaining(['create', 'attach', 'start', 'die', 'destroy']));
    expect(actions.indexOf('create')).toBeLessThan(actions.indexOf('destroy'));
  });

  it('images: tag, images, image inspect, history, rmi, save, load', async () => {
    covers('docker tag', 'docker images', 'docker image inspect', 'docker history', 'docker rmi', 'docker save', 'docker load');
    const t = `mybox${tag}:1`;
    await must(['tag', 'busybox', t]);
    expect(await must(['images', '--format', '{{.Repository}}:{{.Tag}}', `mybox${tag}`])).toBe(`${t}\n`);
    const ins = JSON.parse(await must(['image', 'inspect', t]))[0];
    expect(ins.RepoTags).toEqual(expect.arrayContaining(['busybox:latest', t]));
    expect(ins.Config.Cmd).toEqual(['sh']);
    expect(await must(['history', '--format', '{{.CreatedBy}}', t])).toMatch(/busybox/);
    const tar = join(work, `save-${tag}.tar`);
    await must(['save', '-o', tar, t]);
    expect(await must(['rmi', t])).toBe(`Untagged: ${t}\n`);
    expect(await must(['load', '-i', tar])).toBe(`Loaded image: ${t}\n`);
    await must(['rmi', t]);
  });

  it('build -t from a context directory with the classic builder, then run it', async () => {
    covers('docker build');
    const ctx = await mkdtemp(join(work, 'ctx-'));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nARG WHO=nobody\nCOPY hello.txt /hello.txt\nRUN echo "built for $WHO" >> /hello.txt\nCMD ["cat", "/hello.txt"]\n');
    await writeFile(join(ctx, 'hello.txt'), 'hello\n');
    await writeFile(join(ctx, '.dockerignore'), 'secret\n');
    await writeFile(join(ctx, 'secret'), 'never sent\n');
    const img = `built${tag}:1`;
    const b = await docker(['build', '-t', img, '--build-arg', 'WHO=docker', '.'], { cwd: ctx });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/Step 1\/5 : FROM busybox[\s\S]*Successfully built [0-9a-f]{12}\nSuccessfully tagged built/);
    expect(await must(['run', '--rm', img])).toBe('hello\nbuilt for docker\n');
    const broken = await docker(['build', '-'], { input: 'FROM busybox\nRUN exit 9\n' });
    expect(broken.code).not.toBe(0);
    expect(broken.stderr + broken.stdout).toMatch(/exit code|returned a non-zero code|9/);
    await must(['rmi', img]);
  });

  it('login, push, pull: a registry behind a password', async () => {
    covers('docker login', 'docker push', 'docker pull');
    // A login is the daemon's, as hull login's is (docs/docker-compat.md): each client's run starts without one.
    await d.hull(['logout', reg.host]);
    const name = `${reg.host}/team/app${tag}:1`;
    await must(['tag', 'busybox', name]);
    const anon = await docker(['push', name]);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr + anon.stdout).toMatch(/unauthorized|authentication required/);
    expect(await must(['login', '-u', USER, '--password-stdin', reg.host], { input: PASS })).toMatch(/Login Succeeded/);
    const push = await must(['push', name]);
    expect(push).toMatch(/The push refers to repository \[127\.0\.0\.1:\d+\/team\/app\w*\][\s\S]*1: digest: sha256:[0-9a-f]{64} size: \d+/);
    await must(['rmi', name]);
    const pull = await must(['pull', name]);
    expect(pull).toMatch(/Digest: sha256:[0-9a-f]{64}\nStatus: (Downloaded newer image|Image is up to date) for /);
    expect(await must(['run', '--rm', name, 'echo', 'pulled'])).toBe('pulled\n');
    await must(['rmi', name]);
  });

  it('volume create, ls, inspect, rm, prune; -v NAME:/path, -v /path, --mount and --tmpfs; rm -v takes the anonymous ones', async () => {
    covers('docker volume create', 'docker volume ls', 'docker volume inspect', 'docker volume rm', 'docker volume prune', 'docker run -v / --mount / --tmpfs', 'docker rm -v');
    const vol = `data${tag}`;
    await must(['volume', 'create', '--label', `by=${tag}`, vol]);
    expect(await must(['volume', 'ls', '--filter', `label=by=${tag}`, '--format', '{{.Driver}} {{.Name}}'])).toBe(`local ${vol}\n`);
    const ins = JSON.parse(await must(['volume', 'inspect', vol]))[0];
    expect(ins).toMatchObject({ Name: vol, Driver: 'local', Labels: { by: tag }, Scope: 'local' });
    expect(ins.Mountpoint).toMatch(/^\//);
    await must(['run', '--rm', '-v', `${vol}:/data`, 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    expect(await must(['run', '--rm', '-v', `${vol}:/data:ro`, 'busybox', 'cat', '/data/f'])).toBe('kept\n');
    const ro = await docker(['run', '--rm', '--mount', `type=volume,source=${vol},target=/data,readonly`, 'busybox', 'touch', '/data/g']);
    expect(ro.code).not.toBe(0);
    const name = `vols${tag}`;
    await must(['run', '-d', '--name', name, '-v', `${vol}:/data`, '-v', '/scratch', '--tmpfs', '/run/t:size=1m', 'busybox', 'sleep', '600']);
    const mounts = JSON.parse(await must(['inspect', '-f', '{{json .Mounts}}', name])) as Array<{ Type: string; Name?: string; Destination: string }>;
    expect(mounts.map((m) => `${m.Type} ${m.Destination}`).sort()).toEqual(['tmpfs /run/t', 'volume /data', 'volume /scratch']);
    const anon = mounts.find((m) => m.Destination === '/scratch')!.Name!;
    expect(await must(['ps', '--filter', `volume=${vol}`, '--format', '{{.Names}}'])).toBe(`${name}\n`);
    expect(await must(['exec', name, 'sh', '-c', 'grep " /run/t " /proc/mounts | cut -d" " -f3'])).toBe('tmpfs\n');
    const inUse = await docker(['volume', 'rm', vol]);
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toMatch(/volume is in use/);
    await must(['rm', '-fv', name]);
    expect(await must(['volume', 'ls', '-q'])).not.toContain(anon);
    await must(['volume', 'rm', vol]);
    await must(['volume', 'create', `gone${tag}`]);
    // Before docker 23 (API 1.42) prune takes every unused volume; from it, named ones only with -a.
    const modern = Number(client.name.split(' ')[1].split('.')[0]) >= 23;
    if (modern) expect(await must(['volume', 'prune', '-f'])).not.toContain(`gone${tag}`);
    expect(await must(['volume', 'prune', '-f', ...(modern ? ['-a'] : [])])).toContain(`gone${tag}`);
  });

  it('network create, ls, inspect, connect, disconnect, rm and prune; names resolve on the network', async () => {
    covers('docker network create', 'docker network ls', 'docker network inspect', 'docker network connect', 'docker network disconnect', 'docker network rm', 'docker network prune');
    const [n1, n2] = [`n1${tag}`, `n2${tag}`];
    const subnet = `10.201.${7 + clients.indexOf(client)}.0/24`;
    await must(['network', 'create', '--subnet', subnet, '--label', `purpose=test${tag}`, n1]);
    await must(['network', 'create', n2]);
    expect(await must(['network', 'ls', '--filter', `label=purpose=test${tag}`, '--format', '{{.Name}} {{.Driver}}'])).toBe(`${n1} bridge\n`);
    const ins = JSON.parse(await must(['network', 'inspect', n1]))[0];
    expect(ins).toMatchObject({ Name: n1, Driver: 'bridge', Labels: { purpose: `test${tag}` } });
    expect(ins.IPAM.Config[0].Subnet).toBe(subnet);
    const srv = `srv${tag}`;
    await must(['run', '-d', '--name', srv, '--network', n1, '--network-alias', `db${tag}`, 'busybox', 'sleep', '600']);
    const ip = (await must(['inspect', '-f', `{{(index .NetworkSettings.Networks "${n1}").IPAddress}}`, srv])).trim();
    const look = await must(['run', '--rm', '--network', n1, 'busybox', 'nslookup', `db${tag}`]);
    expect(look).toContain(`Address: ${ip}`);
    await must(['network', 'connect', n2, srv]);
    expect(Object.keys(JSON.parse(await must(['inspect', '-f', '{{json .NetworkSettings.Networks}}', srv]))).sort()).toEqual([n1, n2].sort());
    await must(['network', 'disconnect', n2, srv]);
    await must(['rm', '-f', srv]);
    await must(['network', 'rm', n1]);
    const pruned = await must(['network', 'prune', '-f']);
    expect(pruned).toContain(n2);
    expect(await must(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(n2);
  });
});

describe.skipIf(!clients.length)('one set of containers for both CLIs', () => {
  it('a container made by docker is listed, inspected and removed by hull, and the other way round', async () => {
    const client = clients[0];
    compat.covers(client.name, 'hull and docker see the same containers');
    await ok(runDocker(client, sock, ['run', '-d', '--name', 'from-docker', '-l', 'made=docker', 'busybox', 'sleep', '600']), 'docker run');
    expect(await d.ok(['ps'])).toContain('from-docker');
    expect((await d.ok(['inspect', '-f', '{{.State.Status}}', 'from-docker'])).trim()).toBe('running');
    await d.ok(['rm', '-f', 'from-docker']);
    await d.ok(['run', '-d', '--name', 'from-hull', 'busybox', 'sleep', '600']);
    expect(await ok(runDocker(client, sock, ['ps', '--format', '{{.Names}} {{.Image}}']), 'docker ps')).toContain('from-hull busybox');
    await ok(runDocker(client, sock, ['rm', '-f', 'from-hull']), 'docker rm');
    expect(await d.ok(['ps', '-a'])).not.toContain('from-hull');
  });
});
