import { join } from 'node:path';
import { HullError } from '../core/errors.js';
import type { BuildContainers } from '../image/build/builder.js';
import { BUILD_LABEL, type Engine } from './engine.js';

/**
 * RUN steps of `hull build` as real Hull containers: created through the
 * engine like any other (so limits, seccomp and networks are the same), run
 * docker-run style (wait, attach, start), and removed by the builder once it
 * has read their changes. A container that failed to start is removed here.
 */
export function buildContainers(engine: Engine): BuildContainers {
  return {
    async run(o) {
      const inst = await engine.create({ image: o.image, entrypoint: [], cmd: o.cmd, env: o.env, labels: { [BUILD_LABEL]: 'true' } });
      try {
        const exited = engine.wait(inst.id, 'next-exit');
        const { stdio } = await engine.attach(inst.id);
        const closed = new Promise<void>((resolve) => stdio.onClose(resolve));
        stdio.onData((_s, data) => o.onOutput(data));
        const abort = () => void engine.kill(inst.id).catch(() => undefined);
        o.signal?.addEventListener('abort', abort, { once: true });
        try {
          o.onStart(inst.id);
          await engine.start(inst.id);
          const { exitCode } = await exited;
          // The output's last bytes may still be in flight when the exit is recorded.
          await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
          stdio.close();
          if (o.signal?.aborted) throw new HullError('internal', 'build cancelled');
          return { id: inst.id, exitCode };
        } finally {
          o.signal?.removeEventListener('abort', abort);
        }
      } catch (e) {
        await engine.remove(inst.id, true).catch(() => undefined);
        throw e;
      }
    },
    upperDir: (id) => join(engine.root, 'containers', id, 'rootfs', 'upper'),
    remove: (id) => engine.remove(id, true),
  };
}
