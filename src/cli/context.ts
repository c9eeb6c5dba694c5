import { Client } from './client.js';
import { flushStdio } from './stdio.js';
import { resolveHost, socketPathFromHost } from '../daemon/config.js';

/** What every command gets: the API client, for the host chosen by -H/--host or HULL_HOST. */
export interface Ctx {
  client: Client;
}

let client: Client | undefined;
export function getCtx(host?: string): Ctx {
  client ??= new Client(socketPathFromHost(resolveHost(host)));
  return { client };
}

export const enc = encodeURIComponent;

/** Collect a repeatable option (`-e A=1 -e B=2`). */
export const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Docker's verbs that take several names: `fn` for each in turn; a failure is
 * printed (`Error: …`) and the others still run; exit 1 at the end if any failed.
 */
export async function forEachRef(refs: string[], fn: (ref: string) => Promise<void>): Promise<void> {
  let failed = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (e) {
      failed++;
      process.stderr.write(`Error: ${(e as Error).message}\n`);
    }
  }
  if (failed) exitWith(1);
}

/** Exit the CLI with a code, after stdout and stderr drain. */
export function exitWith(code: number): never {
  process.exitCode = code;
  client?.close();
  // stdout to a pipe is asynchronous in Node: exiting at once would drop what a slow reader
  // has not taken yet. Anything else still open (sockets) must not hold us.
  void flushStdio().then(() => process.exit(code));
  throw new ExitSignal(code);
}

export class ExitSignal extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
