import { parentPort } from 'node:worker_threads';
import { toHullError } from '../../core/errors.js';
import { type UnpackJob, unpackLayer } from './unpack-layer.js';

/** Worker-thread entry for UnpackPool: one job at a time, answered with `{ ok }` or `{ ok: false, code, message }`. */
parentPort?.on('message', (job: UnpackJob) => {
  unpackLayer(job).then(
    () => parentPort!.postMessage({ ok: true }),
    (e: unknown) => {
      const he = toHullError(e);
      parentPort!.postMessage({ ok: false, code: he.code, message: he.message });
    },
  );
});
