import { mkdir, readdir, watch } from 'node:fs/promises';

/**
 * Conmon (and Hull's QEMU exit reporters) write a file named after the
 * instance's id into the exits directory when it ends: each new one is an
 * exit to record. Exits that landed while nobody watched are read at start.
 * Returns the way to stop.
 */
export async function watchExits(dir: string, onExit: (id: string) => void, onError: (e: unknown) => void): Promise<() => void> {
  await mkdir(dir, { recursive: true });
  const ac = new AbortController();
  void (async () => {
    try {
      for await (const ev of watch(dir, { signal: ac.signal })) {
        if (ev.filename && /^[0-9a-f]{64}$/.test(ev.filename)) onExit(ev.filename);
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') onError(e);
    }
  })();
  for (const f of await readdir(dir)) if (/^[0-9a-f]{64}$/.test(f)) onExit(f);
  return () => ac.abort();
}
