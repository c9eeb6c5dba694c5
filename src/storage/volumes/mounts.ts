import { rm } from 'node:fs/promises';
import { isMounted } from '../overlay.js';
import { run } from '../../sys/run.js';

/** Mount helpers shared by the volume kinds: argv only, every call with a timeout. */
export { isMounted };

export async function mount(args: string[], what: string): Promise<void> {
  await run(['mount', ...args], { timeoutMs: 60_000, errorCode: 'internal' }).catch((e: Error) => {
    throw Object.assign(e, { message: `mounting ${what}: ${e.message}` });
  });
}

/** Unmount if mounted (a lazy unmount when busy); idempotent. */
export async function unmount(path: string, o: { recursive?: boolean } = {}): Promise<void> {
  if (!(await isMounted(path))) return;
  const r = await run(['umount', ...(o.recursive ? ['-R'] : []), path], { allowFailure: true, timeoutMs: 60_000 });
  if (r.code !== 0 && (await isMounted(path))) await run(['umount', '-l', path], { timeoutMs: 30_000 });
}

/** Unmount, then remove the mount point. */
export async function unmountAndRemove(path: string): Promise<void> {
  await unmount(path, { recursive: true });
  await rm(path, { recursive: true, force: true });
}
