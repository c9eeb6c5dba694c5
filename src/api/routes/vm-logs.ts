import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Instance } from '../../core/instance.js';
import type { Engine } from '../../engine/engine.js';

/**
 * A VM's `logs`: its serial console log, raw text. With `follow`, new bytes
 * are read every 200 ms until the VM exits or the client goes.
 */
export function vmConsoleLog(engine: Engine, inst: Instance, follow: boolean, onClientGone: (f: () => void) => void): Readable {
  const path = engine.logPath(inst);
  let pos = 0;
  let done = false;
  const out = new Readable({ read() {} });
  const readMore = async () => {
    const fh = await open(path, 'r').catch(() => undefined);
    if (!fh) return;
    try {
      for (;;) {
        const buf = Buffer.alloc(64 * 1024);
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (!bytesRead) break;
        pos += bytesRead;
        out.push(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  };
  const end = async () => {
    if (done) return;
    done = true;
    clearInterval(timer);
    engine.events.off(`exit:${inst.id}`, onExit);
    await readMore().catch(() => undefined);
    out.push(null);
  };
  const onExit = () => void end();
  let timer: NodeJS.Timeout | undefined;
  void readMore().then(() => {
    const live = inst.state.status === 'running' || inst.state.status === 'paused' || inst.state.status === 'created';
    if (!follow || !live) return void end();
    engine.events.once(`exit:${inst.id}`, onExit);
    onClientGone(() => void end());
    timer = setInterval(() => void readMore().catch(() => undefined), 200);
  });
  return out;
}
