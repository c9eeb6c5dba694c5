import type { Readable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import { FILE_END, readLog } from '../../runtime/logs/reader.js';
import { startedStream } from './log-stream.js';

/**
 * A VM's `logs`: its serial console log, raw text, across its rotated files
 * (QEMU's log is rotated by copy: runtime/logs/copy-rotation.ts). `tail`
 * counts lines; the console has no timestamps, so since/until are refused.
 * With `follow`, new bytes as they come until the VM exits or the client goes.
 */
export async function vmConsoleLog(path: string, o: { tail?: number; since?: bigint; until?: bigint; follow?: AbortSignal }): Promise<Readable> {
  if (o.since !== undefined || o.until !== undefined) throw invalid("a VM's console log has no timestamps: --since and --until work on containers only");
  const chunks = readLog(path, { rotation: 'copy', tail: o.tail, partialLines: true, follow: o.follow });
  return startedStream(chunks, (c) => (c === FILE_END || !c.length ? undefined : c));
}
