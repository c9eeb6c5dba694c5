/**
 * Where an API run's time goes: the programs the daemon spawns for one
 * `create → wait → start → exit` of `busybox true`, on a timeline.
 *
 * `perf record` (system-wide, sched:process_{fork,exec,exit} tracepoints on
 * CLOCK_MONOTONIC, so nothing is ptraced or slowed) runs while the bench
 * drives the API and stamps its own calls with the same clock. Every process
 * descending from the daemon is a step; the gaps between steps are the
 * daemon's own work (and node's fork/exec). Medians over the runs. Skipped
 * when perf is not installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BenchDaemon, EventLog, log, sleep, stats, table, onInterrupt } from './lib.js';

export interface ProfileOptions {
  runs: number;
}

export interface ProfileStep {
  program: string;
  /** ms from the start request being sent. */
  at: number;
  /** ms from its fork to its exit (NaN: still running at the end of the run, e.g. conmon). */
  took: number;
}

export interface ProfileResult {
  runs: number;
  /** Client-side marks, ms from the start request (medians). */
  marks: Record<string, number>;
  /** The spawned programs in order (medians over the runs that had the same sequence). */
  steps: ProfileStep[];
  consistentRuns: number;
  notes: string[];
}

const mono = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC, as perf -k mono

export function perfAvailable(): boolean {
  return spawnSync('perf', ['--version']).status === 0;
}

interface Proc {
  pid: number;
  parent: number;
  fork: number;
  execs: string[];
  firstExec?: number;
  exit?: number;
}

function parsePerf(text: string): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  const get = (pid: number, parent = 0, t = NaN) => {
    let p = procs.get(pid);
    if (!p) {
      p = { pid, parent, fork: t, execs: [] };
      procs.set(pid, p);
    }
    return p;
  };
  // "  comm PID/TID  SECONDS: sched:sched_process_fork: comm=node pid=1 child_comm=node child_pid=2"
  const re = /^\s*(.*?)\s+(\d+)\/(\d+)\s+(\d+\.\d+):\s+sched:sched_process_(fork|exec|exit):\s+(.*)$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const pid = Number(m[2]);
    const tid = Number(m[3]);
    const t = Number(m[4]) * 1000;
    const kind = m[5];
    const rest = m[6];
    if (kind === 'fork') {
      const child = Number(/child_pid=(\d+)/.exec(rest)?.[1]);
      const c = get(child, pid, t);
      c.parent = pid;
      c.fork = t;
    } else if (kind === 'exec') {
      const file = /filename=(\S+)/.exec(rest)?.[1] ?? '?';
      const p = get(pid);
      if (p.firstExec === undefined) p.firstExec = t;
      p.execs.push(file);
    } else if (kind === 'exit') {
      if (pid === tid) get(pid).exit = t;
    }
  }
  return procs;
}

/** A readable name for an exec chain: crun's re-exec of itself through /dev/fd/N is folded in. */
function label(execs: string[]): string {
  const names: string[] = [];
  for (const e of execs) {
    if (e.startsWith('/dev/fd/')) continue;
    const b = basename(e);
    if (names[names.length - 1] !== b) names.push(b);
  }
  return names.join(' → ');
}

export async function profile(o: ProfileOptions): Promise<ProfileResult> {
  const notes: string[] = [];
  const work = await mkdtemp('/tmp/hbp-');
  const unregisterWork = onInterrupt(() => rm(work, { recursive: true, force: true }));
  let daemon: BenchDaemon | undefined;
  let events: EventLog | undefined;
  let perf: ReturnType<typeof spawn> | undefined;
  try {
    daemon = await BenchDaemon.start();
    const d = daemon;
    const api = d.api;
    const info = await d.info();
    events = new EventLog(d.socket);
    await events.start();
    const ev = events;

    const once = async () => {
      const m: Record<string, number> = {};
      m['create sent'] = mono();
      const { id } = await api.call<{ id: string }>('POST', '/v1/containers', { image: 'busybox', cmd: ['true'], autoRemove: true });
      m['create answered'] = mono();
      const waiting = api.call('POST', `/v1/containers/${id}/wait?condition=next-exit`);
      m['start sent'] = mono();
      await api.call('POST', `/v1/containers/${id}/start`);
      m['start answered'] = mono();
      await waiting;
      m['wait answered (exit recorded)'] = mono();
      await ev.wait(id, 'destroy', 10_000);
      m['destroy event (--rm done)'] = mono();
      ev.forget(id);
      return m;
    };
    for (let i = 0; i < 3; i++) await once(); // warm

    const data = join(work, 'perf.data');
    perf = spawn('perf', ['record', '-q', '-k', 'mono', '-a', '-e', 'sched:sched_process_fork', '-e', 'sched:sched_process_exec', '-e', 'sched:sched_process_exit', '-o', data], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let perfErr = '';
    perf.stderr!.on('data', (b: Buffer) => (perfErr += b.toString()));
    await sleep(1500); // perf needs a moment before it records
    const runs: Array<Record<string, number>> = [];
    for (let i = 0; i < o.runs; i++) {
      runs.push(await once());
      await sleep(100);
    }
    await sleep(300);
    const exited = new Promise((r) => perf!.once('exit', r));
    perf.kill('SIGINT');
    await exited;
    perf = undefined;
    const script = spawnSync('perf', ['script', '-i', data, '-F', 'comm,pid,tid,time,event,trace'], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
    if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr || perfErr}`);
    const procs = parsePerf(script.stdout);

    // Everything that descends from the daemon.
    const isDaemonDescendant = (p: Proc): boolean => {
      let cur: Proc | undefined = p;
      for (let hops = 0; cur && hops < 20; hops++) {
        if (cur.parent === info.daemonPid) return true;
        cur = procs.get(cur.parent);
      }
      return false;
    };
    const spawned = [...procs.values()].filter((p) => p.execs.length && isDaemonDescendant(p)).sort((a, b) => a.fork - b.fork);

    const perRun: ProfileStep[][] = runs.map((m) => {
      const t0 = m['start sent'];
      const t1 = m['destroy event (--rm done)'];
      return spawned
        .filter((p) => p.fork >= m['create sent'] && p.fork <= t1)
        .map((p) => ({ program: label(p.execs), at: p.fork - t0, took: p.exit !== undefined && p.exit <= t1 + 50 ? p.exit - p.fork : NaN }));
    });
    // Runs whose sequence of programs is the most common one are compared step by step.
    const key = (s: ProfileStep[]) => s.map((x) => x.program).join('|');
    const counts = new Map<string, number>();
    for (const s of perRun) counts.set(key(s), (counts.get(key(s)) ?? 0) + 1);
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    const same = perRun.filter((s) => key(s) === best);
    if (same.length < perRun.length) notes.push(`${perRun.length - same.length} of ${perRun.length} runs spawned a different sequence of programs and are left out of the step medians.`);
    const steps: ProfileStep[] = (same[0] ?? []).map((s, i) => ({
      program: s.program,
      at: stats(same.map((r) => r[i].at)).median,
      took: stats(same.map((r) => r[i].took).filter(Number.isFinite)).median,
    }));
    const markNames = Object.keys(runs[0] ?? {});
    const marks = Object.fromEntries(markNames.map((k) => [k, stats(runs.map((m) => m[k] - m['start sent'])).median]));
    return { runs: o.runs, marks, steps, consistentRuns: same.length, notes };
  } finally {
    if (perf) perf.kill('SIGKILL');
    events?.stop();
    if (daemon) await daemon.destroy();
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    unregisterWork();
  }
}

export function printProfile(r: ProfileResult): string {
  const lines: string[] = [];
  lines.push(`Where one API run's time goes (${r.consistentRuns} of ${r.runs} runs; ms from the start request, medians; perf sched tracepoints)`);
  const rows: Array<Array<string | number>> = [];
  const marks = Object.entries(r.marks).map(([k, v]) => ({ kind: 'api', name: k, at: v, took: NaN }));
  const steps = r.steps.map((s) => ({ kind: 'spawn', name: s.program, at: s.at, took: s.took }));
  for (const x of [...marks, ...steps].sort((a, b) => a.at - b.at)) rows.push([x.kind === 'api' ? `[api] ${x.name}` : `  ${x.name}`, x.at, x.took]);
  lines.push(table(['event / spawned program (fork → exit)', 'at ms', 'took ms'], rows));
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
