import { readFile } from 'node:fs/promises';
import { HullError, isHullError, type ErrorCode } from '../../core/errors.js';
import type { Instance } from '../../core/instance.js';
import type { Driver, ExitStatus, StdioStream } from '../driver.js';
import type { ReadyWait } from '../registry.js';
import { sleep, waitFor } from '../../core/poll.js';
import { READY_LINE } from './fixture.js';

export { sleep, waitFor } from '../../core/poll.js';

/** The exit the driver reports, once it reports one. */
export const exited = (d: Driver, inst: Instance, timeoutMs: number): Promise<ExitStatus> =>
  waitFor(() => d.exitStatus(inst), timeoutMs, `${inst.name} to exit`);

const readyWait = (d: Driver): ReadyWait | undefined => (typeof (d as Partial<ReadyWait>).waitReady === 'function' ? (d as unknown as ReadyWait) : undefined);

/** Until the program has set itself up (fixture.ts, Program): the guest agent answers, or READY_LINE is in its log. */
export async function programReady(d: Driver, inst: Instance, timeoutMs: number): Promise<void> {
  const r = readyWait(d);
  if (r) return r.waitReady(inst, timeoutMs);
  await waitFor(async () => (await readFile(d.logPath(inst), 'utf8').catch(() => '')).includes(READY_LINE), timeoutMs, `${inst.name}'s program to say it is ready`);
}

/** An exec's output and exit code. */
export async function execOut(d: Driver, inst: Instance, cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = await d.exec(inst, { cmd, env: [], workingDir: '', user: '', tty: false, stdin: false });
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const closed = new Promise<void>((r) => s.stdio.onClose(r));
  s.stdio.onData((stream, b) => out[stream].push(b));
  await s.start();
  const code = await s.exitCode;
  // The output may trail the exit code by a moment; never wait on a stream that does not close.
  await Promise.race([closed, sleep(2000)]);
  s.stdio.close();
  return { code, stdout: Buffer.concat(out.stdout).toString(), stderr: Buffer.concat(out.stderr).toString() };
}

/** Everything a stream has sent on stdout so far. */
export function collect(s: StdioStream): () => string {
  let text = '';
  s.onData((stream, b) => {
    if (stream === 'stdout') text += b.toString();
  });
  return () => text;
}

/** The HullError `p` rejects with (failing when it resolves or throws something else). */
export async function rejection(p: Promise<unknown>, codes?: ErrorCode[]): Promise<HullError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isHullError(e)) throw new Error(`expected a HullError${codes ? ` (${codes.join(' or ')})` : ''}, got ${e === undefined ? 'success' : String(e)}`);
  if (codes && !codes.includes(e.code)) throw new Error(`expected a HullError ${codes.join(' or ')}, got ${e.code}: ${e.message}`);
  return e;
}
