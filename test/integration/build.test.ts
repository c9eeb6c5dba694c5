import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * `hull build` against a real daemon: RUN steps in real containers, layers
 * from their overlay upper dirs, the cache, multi-stage, .dockerignore,
 * failures that leave nothing behind, and a built image read by skopeo.
 */
let d: TestDaemon;
let work: string;

beforeAll(async () => {
  d = await TestDaemon.start();
  work = await mkdtemp(join(tmpdir(), 'hull-build-'));
});
afterAll(async () => {
  await d?.destroy();
  await rm(work, { recursive: true, force: true });
});

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  for (const [rel, body] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), body);
  }
  return dir;
}

const build = (args: string[]) => d.hull(['build', ...args], { timeoutMs: 60_000 });
const run = (args: string[]) => d.ok(['run', '--rm', ...args]);

const APP = `# syntax=docker/dockerfile:1
FROM busybox
ENV GREETING=hello \\
    TARGET="the world"
WORKDIR /app
COPY hello.txt ./
COPY conf/ /etc/app/
RUN echo "built \${GREETING}" > /app/built.txt && \\
    echo step-output
CMD ["sh", "-c", "cat /app/hello.txt /app/built.txt; echo $GREETING $TARGET; pwd"]
`;

describe('hull build', () => {
  let ctx: string;

  it('builds FROM busybox with RUN, COPY, ENV, WORKDIR and CMD, and the image runs', async () => {
    ctx = await context('app', { Dockerfile: APP, 'hello.txt': 'hi from the context\n', 'conf/a.conf': 'a=1\n' });
    const r = await build(['-t', 'app:dev', ctx]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('Step 1/7 : FROM busybox');
    expect(r.stdout).toMatch(/^step-output$/m);
    expect(r.stdout).toMatch(/Successfully built [0-9a-f]{12}/);
    expect(r.stdout).toContain('Successfully tagged app:dev');
    const out = await run(['app:dev']);
    expect(out).toBe('hi from the context\nbuilt hello\nhello the world\n/app\n');
    expect(await run(['app:dev', 'cat', '/etc/app/a.conf'])).toBe('a=1\n');
    // Files COPY wrote belong to root; no container of the build is left.
    expect(await run(['app:dev', 'stat', '-c', '%u:%g', '/app/hello.txt'])).toBe('0:0\n');
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
  });

  it('HEALTHCHECK in a Dockerfile is the default check of its containers: starting, unhealthy, healthy', async () => {
    const c = await context('health', { Dockerfile: 'FROM busybox\nHEALTHCHECK --interval=300ms --timeout=2s --retries=2 CMD test -e /tmp/ok\nCMD ["sleep", "300"]\n' });
    const r = await build(['-t', 'health:1', c]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const img = JSON.parse(await d.ok(['image', 'inspect', 'health:1']))[0];
    expect(JSON.stringify(img)).toContain('"Test":["CMD-SHELL","test -e /tmp/ok"]');
    await d.ok(['run', '-d', '--name', 'hc', 'health:1']);
    await waitFor(async () => (await d.state('hc', 'Health.Status')) === 'unhealthy', 20_000);
    await d.ok(['exec', 'hc', 'touch', '/tmp/ok']);
    await waitFor(async () => (await d.state('hc', 'Health.Status')) === 'healthy', 20_000);
    await d.ok(['rm', '-f', 'hc']);
    const none = await context('nohealth', { Dockerfile: 'FROM health:1\nHEALTHCHECK NONE\n' });
    expect((await build(['-t', 'health:none', none])).code).toBe(0);
    await d.ok(['run', '-d', '--name', 'hc2', 'health:none']);
    expect((await d.ok(['inspect', '-f', '{{json .State.Health}}', 'hc2'])).trim()).toBe('null');
    await d.ok(['rm', '-f', 'hc2']);
  });

  it('uses the cache for every step of an identical build, and is faster', async () => {
    const tFirst = Date.now();
    expect((await build(['--no-cache', '-t', 'app:dev', ctx])).code).toBe(0);
    const first = Date.now() - tFirst;
    const t0 = Date.now();
    const r = await build(['-t', 'app:dev', ctx]);
    const took = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/---> Using cache/g)?.length).toBe(6);
    expect(r.stdout).not.toMatch(/^step-output$/m);
    expect(took).toBeLessThan(first);
  });

  it('reruns from the step whose copied file changed', async () => {
    await writeFile(join(ctx, 'conf/a.conf'), 'a=2\n');
    const r = await build(['-t', 'app:dev', ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/---> Using cache/g)?.length).toBe(3); // ENV, WORKDIR, COPY hello.txt
    expect(r.stdout).toMatch(/^step-output$/m);
    expect(await run(['app:dev', 'cat', '/etc/app/a.conf'])).toBe('a=2\n');
  });

  it('--no-cache runs every step', async () => {
    const r = await build(['--no-cache', '-t', 'app:dev', ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('Using cache');
    expect(r.stdout).toMatch(/^step-output$/m);
  });

  it('multi-stage: COPY --from a build stage into FROM scratch', async () => {
    const dir = await context('multi', {
      Dockerfile: `FROM busybox AS build
RUN mkdir -p /out && echo compiled > /out/prog.txt && cp /bin/busybox /out/busybox
FROM scratch
COPY --from=build /out/busybox /bin/busybox
COPY --from=build /out/prog.txt /
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/prog.txt"]
`,
    });
    const r = await build(['-t', 'multi:1', dir]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await run(['multi:1'])).toBe('compiled\n');
    // Only the final stage's files: no shell, no /etc/passwd from busybox.
    const ls = await run(['multi:1', 'ls', '/bin']);
    expect(ls).toBe('busybox\n');
  });

  it('builder prune forgets the cache and removes what only it kept (a build stage\'s layer); images stay', async () => {
    const blobs = async () => (await readdir(join(d.root, 'image', 'blobs', 'sha256'))).length;
    const dir = await context('prunable', {
      Dockerfile: 'FROM busybox AS stage\nRUN head -c 200000 /dev/urandom >/blob && echo stage-ran\nFROM busybox\nCOPY --from=stage /blob /blob\nRUN echo final-ran\n',
    });
    expect((await build(['-t', 'prunable:1', dir])).code).toBe(0);
    expect((await build(['-t', 'prunable:1', dir])).stdout).toMatch(/---> Using cache/);
    const before = await blobs();
    // Without -f it asks, and "n" keeps everything.
    expect((await d.hull(['builder', 'prune'], { input: 'n\n' })).stdout).toBe('');
    expect((await build(['-t', 'prunable:1', dir])).stdout).toMatch(/---> Using cache/);
    const out = await d.ok(['builder', 'prune', '-f']);
    expect(out).toMatch(/^Deleted build cache: [1-9]\d* steps, [1-9]\d* unpacked layers\nTotal reclaimed space: [1-9]/);
    expect(await blobs()).toBeLessThan(before); // the stage's RUN layer: no image has it
    expect((await run(['prunable:1', 'wc', '-c', '/blob'])).trim()).toMatch(/^200000 /);
    const again = await build(['-t', 'prunable:1', dir]);
    expect(again.stdout).not.toMatch(/---> Using cache/);
    expect(again.stdout).toMatch(/stage-ran/);
  });

  it('--target stops at a stage', async () => {
    const dir = await context('target', { Dockerfile: 'FROM busybox AS one\nRUN echo one > /which\nFROM busybox\nRUN echo two > /which\n' });
    const r = await build(['--target', 'one', '-t', 'target:1', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(await run(['target:1', 'cat', '/which'])).toBe('one\n');
  });

  it('COPY --chown and globs, ADD of a local tar, -f, USER, EXPOSE, LABEL, ENTRYPOINT with CMD', async () => {
    const dir = await context('more', {
      'docker/Build.df': `FROM busybox
COPY --chown=nobody:nobody *.txt /data/
COPY --chmod=700 run.sh /usr/local/bin/
ADD bundle.tar.gz /opt/
EXPOSE 8080 53/udp
LABEL org.example.team="core team" tier=web
USER nobody
ENTRYPOINT ["/bin/sh", "-c", "id -u; ls /data; cat /opt/inner/f; echo $0"]
CMD ["from-cmd"]
`,
      'a.txt': 'a',
      'b.txt': 'b',
      'c.md': 'c',
      'run.sh': '#!/bin/sh\necho run\n',
    });
    await mkdir(join(dir, 'inner'));
    await writeFile(join(dir, 'inner/f'), 'from the tar\n');
    execFileSync('tar', ['-czf', join(dir, 'bundle.tar.gz'), '-C', dir, 'inner']);
    const r = await build(['-f', join(dir, 'docker/Build.df'), '-t', 'more:1', dir]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await run(['more:1'])).toBe('65534\na.txt\nb.txt\nfrom the tar\nfrom-cmd\n');
    expect(await run(['--entrypoint', 'stat', 'more:1', '-c', '%u:%g %a', '/data/a.txt', '/usr/local/bin/run.sh'])).toBe('65534:65534 644\n0:0 700\n');
    const info = JSON.stringify(JSON.parse(await d.ok(['image', 'inspect', 'more:1'])));
    expect(info).toContain('"8080/tcp":{}');
    expect(info).toContain('"53/udp":{}');
    expect(info).toContain('"org.example.team":"core team"');
  });

  it('.dockerignore leaves files out of the context', async () => {
    const dir = await context('ignore', {
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
      '.dockerignore': '# comment\n*.log\nsecret/\n**/tmp-*\n!keep.log\n',
      'a.txt': 'a',
      'b.log': 'b',
      'keep.log': 'k',
      'secret/key': 'x',
      'sub/tmp-1': 't',
      'sub/c.txt': 'c',
    });
    const r = await build(['-t', 'ignore:1', dir]);
    expect(r.code, r.stderr).toBe(0);
    const files = (await run(['ignore:1', 'find', '/ctx', '-type', 'f'])).split('\n').filter(Boolean).sort();
    expect(files).toEqual(['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/a.txt', '/ctx/keep.log', '/ctx/sub/c.txt']);
  });

  it('a failing RUN fails the build with its exit code and leaves no container and no image', async () => {
    const before = (await d.ok(['images', '-q'])).trim();
    const dir = await context('fail', { Dockerfile: 'FROM busybox\nRUN echo about to fail && exit 3\nRUN echo never\n' });
    const r = await build(['-t', 'fail:1', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('about to fail');
    expect(r.stderr).toMatch(/returned a non-zero code: 3/);
    expect(r.stdout).not.toContain('never');
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect((await d.ok(['images', '-q'])).trim()).toBe(before);
    expect((await d.hull(['image', 'inspect', 'fail:1'])).code).not.toBe(0);
    const leftovers = (await readdir(join(d.root, 'containers')).catch(() => [])).length;
    expect(leftovers).toBe(0);
  });

  it("a daemon killed mid-build: the next one removes the build's RUN container", async () => {
    const dir = await context('killed', { Dockerfile: 'FROM busybox\nRUN echo started && sleep 120\n' });
    const building = d.hull(['build', '-t', 'killed:1', dir], { timeoutMs: 60_000 });
    await waitFor(async () => (await d.ok(['ps', '-aq'])).trim().length > 0, 30_000, 100);
    await d.crash();
    await building;
    await d.spawn();
    expect((await d.ok(['ps', '-aq'])).trim()).toBe('');
    expect(await readdir(join(d.root, 'containers')).catch(() => [])).toEqual([]);
    expect((await d.hull(['image', 'inspect', 'killed:1'])).code).not.toBe(0);
  });

  it('a malformed Dockerfile is refused naming the line', async () => {
    const dir = await context('bad', { Dockerfile: 'FROM busybox\n\nFROBNICATE now\n' });
    const r = await build([dir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/line 3: unknown instruction: FROBNICATE/);
    const url = await context('url', { Dockerfile: 'FROM busybox\nADD http://example.com/x /x\n' });
    expect((await build([url])).stderr).toMatch(/URLs .* not supported/);
  });

  it('--build-arg sets ARGs before and after FROM, with defaults and substitution', async () => {
    const dir = await context('args', {
      Dockerfile: `ARG BASE=busybox
FROM \${BASE}
ARG WHO=nobody
ARG LEVEL
ENV LEVEL_ENV=\${LEVEL:-unset}
RUN echo "who=$WHO level=$LEVEL" > /args.txt
LABEL who=\${WHO}
`,
    });
    const r = await build(['--build-arg', 'WHO=alice', '-t', 'args:1', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(await run(['args:1', 'sh', '-c', 'cat /args.txt; echo $LEVEL_ENV; echo "[$WHO]"'])).toBe('who=alice level=\nunset\n[]\n');
    const again = await build(['--build-arg', 'WHO=bob', '--build-arg', 'LEVEL=3', '-t', 'args:2', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(await run(['args:2', 'sh', '-c', 'cat /args.txt; echo $LEVEL_ENV'])).toBe('who=bob level=3\n3\n');
    const labels = JSON.parse(await d.ok(['image', 'inspect', 'args:2']))[0];
    expect(JSON.stringify(labels)).toContain('"who":"bob"');
  });

  it('a RUN that removes a base file leaves a whiteout the built image honours', async () => {
    const dir = await context('whiteout', { Dockerfile: 'FROM busybox\nRUN rm /etc/group && rm -r /root && mkdir /root && echo new > /root/x\n' });
    const r = await build(['-t', 'wh:1', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(await run(['wh:1', 'sh', '-c', 'ls /etc/group 2>&1; ls -a /root'])).toMatch(/No such file[\s\S]*x/);
    // Through save: the layer tar carries .wh.group.
    const tar = join(work, 'wh.tar');
    await d.ok(['save', '-o', tar, 'wh:1']);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${tar}`]).toString());
    expect(inspect.Layers.length).toBe(2);
    const listing = execFileSync('sh', ['-c', `mkdir -p ${work}/wh && tar -xf ${tar} -C ${work}/wh && for l in $(find ${work}/wh -type f ! -name '*.json' ! -name repositories); do tar -tzf $l 2>/dev/null || tar -tf $l 2>/dev/null; done`]).toString();
    expect(listing).toContain('etc/.wh.group');
  });

  it('a built image round-trips through hull save and skopeo inspect', async () => {
    const tar = join(work, 'app.tar');
    await d.ok(['save', '-o', tar, 'app:dev']);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${tar}`]).toString());
    expect(inspect.Layers.length).toBe(4); // busybox, COPY, COPY, RUN
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `docker-archive:${tar}`]).toString());
    expect(config.config.Env).toContain('GREETING=hello');
    expect(config.config.WorkingDir).toBe('/app');
    expect(config.history.length).toBe(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer).length + 3);
  });
});
