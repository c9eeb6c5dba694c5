import { invalid } from '../core/errors.js';
import { run } from '../sys/run.js';

/**
 * `docker top NAME ps-options`, as docker's daemon does it: the host's ps
 * with those options (as argv, never through a shell), its header for the
 * titles, and the rows whose PID is one of the container's (threads, a `-`
 * PID under `m`, with their process). The last column (the command) keeps
 * its spaces.
 */
export async function psRows(psArgs: string[], pids: number[]): Promise<{ titles: string[]; rows: string[][] }> {
  const args = psArgs.flatMap((a) => a.split(' ')).filter(Boolean);
  if (args.join(' ').length > 256) throw invalid('ps options: at most 256 characters');
  const bad = /(?:^|\s)([^\s=]*)=\s*(PID\S*)/.exec(` ${args.join(' ')}`);
  if (bad && bad[1] !== 'pid') throw invalid(`ps options: specifying "${bad[1]}=${bad[2]}" is not allowed`);
  // Only the container's pids (-q), when the options allow it; some (f) do not: then all, filtered here.
  let out = pids.length ? await run(['ps', ...args, '-q', pids.join(',')], { timeoutMs: 10_000, allowFailure: true }) : undefined;
  if (!out || out.code !== 0) out = await run(['ps', ...args], { timeoutMs: 10_000, allowFailure: true });
  if (out.code !== 0) throw invalid(`ps ${args.join(' ')}: ${out.stderr.trim() || `exit ${out.code}`}`);
  return parsePs(out.stdout, new Set(pids));
}

export function parsePs(stdout: string, pids: Set<number>): { titles: string[]; rows: string[][] } {
  const [head = '', ...lines] = stdout.split('\n');
  const titles = head.trim().split(/\s+/).filter(Boolean);
  const at = titles.indexOf('PID');
  if (at < 0) throw invalid("ps options: ps's output has no PID column (add pid to -o)");
  const rows: string[][] = [];
  let inside = false;
  for (const line of lines) {
    const f = line.trim().split(/\s+/).filter(Boolean);
    if (!f.length) continue;
    if (f[at] === '-') {
      if (inside) rows.push(row(f, titles.length));
      continue;
    }
    inside = pids.has(Number(f[at]));
    if (inside) rows.push(row(f, titles.length));
  }
  return { titles, rows };
}

const row = (f: string[], n: number) => [...f.slice(0, n - 1), f.slice(n - 1).join(' ')];
