import type { Command } from 'commander';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The daemon is not part of the CLI bundle (dist/hull-cli.cjs, where __dirname
 * is dist/); it is loaded from the compiled tree on demand.
 */
function daemonEntry(): string {
  if (typeof __dirname !== 'undefined') return pathToFileURL(join(__dirname, 'src', 'daemon', 'main.js')).href;
  return new URL('../../daemon/main.js', import.meta.url).href;
}

export function register(program: Command): void {
  program
    .command('daemon')
    .description('run the hull daemon in the foreground (logs to stdout)')
    .option('-H, --host <url>', 'the socket to listen on, as dockerd -H (env HULL_HOST, default unix:///run/hull/hull.sock)')
    .option('--root <dir>', 'state directory (env HULL_ROOT, default /var/lib/hull)')
    .option('--insecure-registry <host:port>', 'a registry to reach over plain HTTP or unverified TLS (repeatable; loopback registries always are)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--storage-opt <opt>', "size=SIZE: the writable-layer size of a container that gives none (needs xfs with prjquota or btrfs under the root; see hull info)", (v: string, prev: string[] = []) => [...prev, v])
    .option('--log-opt <k=v>', "default log option for instances created without one (repeatable): max-size=SIZE, max-file=N (default 20m and 5)", (v: string, prev: string[] = []) => [...prev, v])
    .option('--docker-socket <path>', 'also serve the Docker Engine API on this unix socket (root only, mode 0660; off unless given), for the docker CLI, compose and Docker SDKs')
    .option('--store <url>', 'where the state is kept: sqlite (<root>/hull.db, the default) or etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (prefix /hull by default; one daemon per prefix) (env HULL_STORE)')
    .option('--dashboard <addr>', 'serve the web dashboard on HOST:PORT, or off (env HULL_DASHBOARD, default 127.0.0.1:7700; `hull dashboard` prints the sign-in link)')
    .action(async (opts: { host?: string; root?: string; insecureRegistry?: string[]; storageOpt?: string[]; logOpt?: string[]; dockerSocket?: string; store?: string; dashboard?: string }) => {
      const { runDaemon } = (await import(daemonEntry())) as typeof import('../../daemon/main.js');
      try {
        await runDaemon({ host: opts.host ?? program.opts().host, root: opts.root, insecureRegistries: opts.insecureRegistry, storageOpts: opts.storageOpt, logOpts: opts.logOpt, dockerSocket: opts.dockerSocket, store: opts.store, dashboard: opts.dashboard });
      } catch (e) {
        // A daemon that failed to start must not linger with half its handles open.
        process.stderr.write(`hull daemon: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
}
