import { createHash } from 'node:crypto';
import type { Store } from '../../store/store.js';
import type { BuildState } from './state.js';

/** One cached step: the state a step produced from its parent. Kind 'buildcache', id = the step's key. */
interface CacheDoc {
  key: string;
  parent: string;
  state: BuildState;
  createdAt: string;
}

/**
 * BuildCache: docker's layer cache. A step's key is its parent state's id
 * (the image so far), the instruction as expanded (with the build args a RUN
 * sees) and, for COPY/ADD, a digest of the copied files. A hit hands back the
 * exact state the step made before, so the ids of the steps after it (and
 * their keys) come out the same and they hit too; a miss changes the id, so
 * every later step misses, as docker's does.
 *
 *   const key = BuildCache.key(parentId, 'RUN echo hi', []);
 *   const hit = await cache.get(key, usable);  ...  await cache.put(key, parentId, next);
 */
export class BuildCache {
  constructor(private readonly store: Store) {}

  static key(parent: string, instruction: string, extra: string[]): string {
    return createHash('sha256').update(JSON.stringify([parent, instruction, ...extra])).digest('hex');
  }

  /** The cached state for `key`, when `usable` says its blobs are still there. */
  async get(key: string, usable: (s: BuildState) => Promise<boolean>): Promise<BuildState | undefined> {
    const doc = await this.store.get<CacheDoc>('buildcache', key);
    if (!doc) return undefined;
    if (await usable(doc.state)) return doc.state;
    await this.store.delete('buildcache', key);
    return undefined;
  }

  async put(key: string, parent: string, state: BuildState): Promise<void> {
    await this.store.batch([{ op: 'put', kind: 'buildcache', id: key, doc: { key, parent, state, createdAt: new Date().toISOString() } satisfies CacheDoc }]);
  }
}
