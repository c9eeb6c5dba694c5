import type { Command } from 'commander';
import { enc, forEachRef, getCtx } from '../context.js';

/** stop, kill, restart, pause, unpause, rm, wait: each takes several containers, as docker's do. */
export function register(program: Command): void {
  const each = (verb: string, desc: string, path: (ref: string, o: Record<string, string>) => [string, string], configure?: (c: Command) => Command) => {
    let cmd = program.command(verb).description(desc).argument('<container...>');
    if (configure) cmd = configure(cmd);
    cmd.action(async (refs: string[], opts: Record<string, string>) => {
      const ctx = getCtx(program.opts().host);
      await forEachRef(refs, async (ref) => {
        const [method, url] = path(ref, opts);
        await ctx.client.call(method, url);
        process.stdout.write(`${ref}\n`);
      });
    });
  };
  const t = (c: Command) => c.option('-t, --time <seconds>', 'seconds to wait before killing', '10');
  each('stop', 'stop running containers (SIGTERM, then SIGKILL after --time)', (r, o) => ['POST', `/v1/containers/${enc(r)}/stop?t=${enc(o.time)}`], t);
  each('restart', 'restart containers', (r, o) => ['POST', `/v1/containers/${enc(r)}/restart?t=${enc(o.time)}`], t);
  each('kill', 'send a signal to running containers', (r, o) => ['POST', `/v1/containers/${enc(r)}/kill?signal=${enc(o.signal)}`], (c) =>
    c.option('-s, --signal <signal>', 'signal to send', 'SIGKILL'),
  );
  each('pause', 'pause all processes in containers', (r) => ['POST', `/v1/containers/${enc(r)}/pause`]);
  each('unpause', 'unpause containers', (r) => ['POST', `/v1/containers/${enc(r)}/unpause`]);
  each('rm', 'remove containers', (r, o) => ['DELETE', `/v1/containers/${enc(r)}?force=${o.force ? 1 : 0}&v=${o.volumes ? 1 : 0}`], (c) =>
    c.option('-f, --force', 'kill and remove a running container').option('-v, --volumes', 'also remove its anonymous volumes (named ones stay)'),
  );

  program
    .command('rename')
    .description('rename a container or a VM (its networks answer to the new name at once)')
    .argument('<container>')
    .argument('<new-name>')
    .action(async (ref: string, name: string) => {
      await getCtx(program.opts().host).client.call('POST', `/v1/containers/${enc(ref)}/rename?name=${enc(name)}`);
    });

  program
    .command('wait')
    .description('block until containers stop, then print their exit codes')
    .argument('<container...>')
    .action(async (refs: string[]) => {
      const ctx = getCtx(program.opts().host);
      for (const ref of refs) {
        const r = await ctx.client.call<{ exitCode: number }>('POST', `/v1/containers/${enc(ref)}/wait`);
        process.stdout.write(`${r.exitCode}\n`);
      }
    });
}
