import { parentPort } from 'node:worker_threads';
import { setHeld } from './held.js';
import { LogKeeper, type KeeperMessage } from './keeper.js';

/**
 * Worker-thread entry for LogKeepers: conmon's keepers, on an event loop of
 * their own, with the main thread's open inodes mirrored (held.ts).
 */
const keepers = new Map<string, LogKeeper>();

parentPort!.on('message', (m: KeeperMessage) => {
  if (m.op === 'held') return setHeld(m.ino, m.count);
  keepers.get(m.id)?.stop();
  keepers.delete(m.id);
  if (m.op === 'keep') keepers.set(m.id, LogKeeper.start(m.path, m.policy, 'conmon'));
});
