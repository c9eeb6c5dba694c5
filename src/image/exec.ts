import { execFile } from 'node:child_process';
import { HullError } from '../core/errors.js';

/**
 * Run a helper program (mknod, mkfifo, setfattr) with an argv array, never a
 * shell string, since entry names come from image layers. A missing program
 * is 'unavailable' and names the Debian package; a failure carries stderr.
 *
 * TODO: fold into the project's one typed process helper once it exists.
 */
const PACKAGES: Record<string, string> = { setfattr: 'attr', getfattr: 'attr', mknod: 'coreutils', mkfifo: 'coreutils' };

export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        const pkg = PACKAGES[cmd];
        return reject(new HullError('unavailable', `${cmd} is not installed${pkg ? ` (install the Debian package "${pkg}")` : ''}`));
      }
      const why = stderr.trim() || err.message;
      reject(new HullError('internal', `${cmd} ${args.join(' ')}: ${why}`));
    });
  });
}
