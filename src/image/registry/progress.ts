/**
 * What a pull or push reports while it runs, as newline-delimited JSON on the
 * API (one event a line) and as docker-style lines or bars in the CLI:
 *   { "type": "status", "message": "Pulling from x/busybox" }
 *   { "type": "layer", "id": "3f4d90098f5b", "status": "Downloading", "current": 1048576, "total": 4194304 }
 *   { "type": "result", ... }   or   { "type": "error", "code": "invalid", "message": "..." }   (last)
 * `id` is the first 12 hex digits of the blob's digest.
 */
export type LayerStatus =
  | 'Waiting'
  | 'Downloading'
  | 'Download complete'
  | 'Already exists'
  | 'Extracting'
  | 'Pull complete'
  | 'Preparing'
  | 'Pushing'
  | 'Pushed'
  | 'Layer already exists'
  | 'Mounted';

export type ProgressEvent =
  | { type: 'status'; message: string }
  | { type: 'layer'; id: string; status: LayerStatus; current?: number; total?: number; detail?: string };

export type OnProgress = (e: ProgressEvent) => void;

export const shortDigest = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

/**
 * Byte counts arrive once per network chunk (often every few KB); pass on
 * at most one 'Downloading'/'Pushing' event per layer per interval, and
 * always the last one.
 */
export function byteReporter(on: OnProgress, digest: string, status: 'Downloading' | 'Pushing', total: number, everyMs = 100): (current: number) => void {
  let last = 0;
  const id = shortDigest(digest);
  return (current: number) => {
    const now = Date.now();
    if (current < total && now - last < everyMs) return;
    last = now;
    on({ type: 'layer', id, status, current, total });
  };
}

/** Run `fn` over `items`, at most `limit` at a time; settles every started call before rejecting with the first error. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.e;
  return results;
}
