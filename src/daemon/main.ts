import { createLogger } from '../engine/logger.js';
import { resolveConfig } from './config.js';
import { startDaemon } from './daemon.js';

/** `hull daemon`: run until SIGTERM/SIGINT; containers keep running after it stops. */
export async function runDaemon(flags: { host?: string; root?: string; insecureRegistries?: string[]; storageOpts?: string[]; logOpts?: string[]; dockerSocket?: string; store?: string; dashboard?: string }): Promise<void> {
  const log = createLogger();
  const cfg = resolveConfig(flags);
  // The last resort: every request and socket handles its own errors (api/), so
  // reaching these is a bug. Said loudly, with the stack, but one request's bug
  // must not take down the daemon and every stream with it.
  process.on('unhandledRejection', (err) => log.error({ err, stack: (err as Error)?.stack }, 'unhandled rejection: a bug in hull, please report it'));
  process.on('uncaughtException', (err) => log.error({ err, stack: err.stack }, 'uncaught exception: a bug in hull, please report it'));
  const d = await startDaemon(cfg, log);
  let closing = false;
  const stop = async (sig: string, code = 0) => {
    if (closing) return;
    closing = true;
    log.info({ signal: sig }, 'shutting down (containers keep running)');
    // An etcd that went away can hold each store call for its whole timeout: the lost-lock exit is bounded.
    if (code) setTimeout(() => process.exit(code), 15_000).unref();
    await d.close().catch((e) => log.error({ err: String(e) }, 'shutdown error'));
    process.exit(code);
  };
  void d.lost.then((why) => stop(`store lock lost (${why})`, 1));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
