import { HEALTH_OUTPUT_MAX } from '../../core/health.js';
import type { Instance } from '../../core/instance.js';
import type { Driver } from '../../runtime/driver.js';
import type { ProbeResult } from './probes.js';

/**
 * A probe command run inside the instance through its driver's exec (docker's
 * CMD / CMD-SHELL health checks; a VM's through its guest agent): the exit
 * code and the first 4 KiB of output. One that outlives its timeout counts as
 * failed (exit -1, as docker's "Health check exceeded timeout"); its output
 * stream is closed and its process left to end on its own.
 */
export async function execProbe(drv: Driver, inst: Instance, cmd: string[], timeoutMs: number): Promise<ProbeResult> {
  const s = await drv.exec(inst, { cmd, env: [], workingDir: '', user: '', tty: false, stdin: false });
  let output = '';
  s.stdio.onData((_stream, data) => {
    if (output.length < HEALTH_OUTPUT_MAX) output += data.toString('utf8');
  });
  const closed = new Promise<void>((resolve) => s.stdio.onClose(resolve));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ exitCode: -1, output: `Health check exceeded timeout (${timeoutMs} ms)` }), timeoutMs);
  });
  try {
    await s.start();
    // The last output may still be in flight when the exit is known.
    const done = s.exitCode.then(async (exitCode) => {
      await Promise.race([closed, new Promise((r) => setTimeout(r, 200))]);
      return { exitCode, output: output.slice(0, HEALTH_OUTPUT_MAX) };
    });
    return await Promise.race([done, timedOut]);
  } finally {
    clearTimeout(timer);
    s.stdio.close();
  }
}
