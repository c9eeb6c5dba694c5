import { posix } from 'node:path';
import { parseDuration } from '../../core/duration.js';
import { invalid } from '../../core/errors.js';
import type { Instruction } from './dockerfile.js';
import type { RunConfig } from './state.js';
import { keyValues, processWord, processWords, type Vars } from './words.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface MetaInput {
  config: RunConfig;
  vars: Vars;
  escape: string;
  /** Whether this stage set CMD already (an ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

/** A config-only step: its text as expanded (the cache key and history) and the change it makes. */
export interface MetaStep {
  text: string;
  change: (c: RunConfig) => void;
}

/** ENV, LABEL, WORKDIR, USER, EXPOSE, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, VOLUME, as docker applies them. */
export function metaStep(ins: Instruction, o: MetaInput): MetaStep {
  const word = (t: string) => processWord(t, o.vars, o.escape);
  const words = (t: string) => processWords(t, o.vars, o.escape);
  switch (ins.keyword) {
    case 'ENV': {
      const kv = keyValues(ins.args, o.vars, o.escape, 'ENV', true);
      return {
        text: `ENV ${kv.map(([k, v]) => `${k}=${v}`).join(' ')}`,
        change: (c) => void (c.Env = kv.reduce((env, [k, v]) => [...env.filter((e) => e.split('=')[0] !== k), `${k}=${v}`], c.Env ?? [])),
      };
    }
    case 'LABEL': {
      const kv = keyValues(ins.args, o.vars, o.escape, 'LABEL', true);
      return { text: `LABEL ${kv.map(([k, v]) => `${k}=${v}`).join(' ')}`, change: (c) => void (c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(kv) }) };
    }
    case 'WORKDIR': {
      const dir = posix.resolve(o.config.WorkingDir || '/', word(ins.args));
      return { text: `WORKDIR ${dir}`, change: (c) => void (c.WorkingDir = dir) };
    }
    case 'USER': {
      const user = word(ins.args);
      return { text: `USER ${user}`, change: (c) => void (c.User = user) };
    }
    case 'EXPOSE': {
      const ports = words(ins.args).map((p) => (p.includes('/') ? p.toLowerCase() : `${p}/tcp`));
      for (const p of ports) if (!/^\d+(-\d+)?\/(tcp|udp|sctp)$/.test(p)) throw invalid(`invalid port "${p}"`);
      return { text: `EXPOSE ${ports.join(' ')}`, change: (c) => void (c.ExposedPorts = { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(ports.map((p) => [p, {}])) }) };
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      const argv = ins.json ?? [...(o.config.Shell ?? DEFAULT_SHELL), ins.args];
      if (ins.keyword === 'CMD') return { text: `CMD ${JSON.stringify(argv)}`, change: (c) => void (c.Cmd = argv) };
      return {
        text: `ENTRYPOINT ${JSON.stringify(argv)}`,
        change: (c) => {
          c.Entrypoint = argv;
          // docker: an ENTRYPOINT drops the CMD the base image had, not one this stage set.
          if (!o.cmdSet) delete c.Cmd;
        },
      };
    }
    case 'SHELL': {
      const shell = ins.json;
      if (!shell?.length) throw invalid('SHELL requires the arguments to be in JSON form');
      return { text: `SHELL ${JSON.stringify(shell)}`, change: (c) => void (c.Shell = shell) };
    }
    case 'STOPSIGNAL': {
      const sig = word(ins.args);
      return { text: `STOPSIGNAL ${sig}`, change: (c) => void (c.StopSignal = sig) };
    }
    case 'VOLUME': {
      const vols = ins.json ?? words(ins.args);
      return { text: `VOLUME ${JSON.stringify(vols)}`, change: (c) => void (c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(vols.map((v) => [v, {}])) }) };
    }
    case 'HEALTHCHECK':
      return healthcheckStep(ins, word);
    default:
      throw invalid(`${ins.keyword} is not supported`);
  }
}

/**
 * `HEALTHCHECK [--interval --timeout --start-period --start-interval --retries] CMD …`
 * or `HEALTHCHECK NONE`, as docker keeps it in the image config (times in
 * nanoseconds; the exec and shell forms as CMD / CMD-SHELL). A container made
 * from the image runs it unless it asks for another check (records.ts).
 */
function healthcheckStep(ins: Instruction, word: (t: string) => string): MetaStep {
  const rest = ins.args.trim();
  if (/^NONE$/i.test(rest)) {
    if (Object.keys(ins.flags).length) throw invalid('HEALTHCHECK NONE takes no options');
    return { text: 'HEALTHCHECK NONE', change: (c) => void (c.Healthcheck = { Test: ['NONE'] }) };
  }
  const m = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!m) throw invalid('HEALTHCHECK needs CMD and a command, or NONE');
  let test: string[];
  try {
    const j: unknown = JSON.parse(m[1]);
    test = Array.isArray(j) && j.every((x) => typeof x === 'string') ? ['CMD', ...j] : ['CMD-SHELL', m[1]];
  } catch {
    test = ['CMD-SHELL', m[1]];
  }
  const ns = (flag: string) => {
    const v = ins.flags[flag];
    if (v === undefined) return undefined;
    const ms = parseDuration(word(v), `--${flag}`);
    if (ms < 1 && ms !== 0) throw invalid(`--${flag} must be at least 1ms`);
    return ms * 1e6;
  };
  const retries = ins.flags.retries === undefined ? undefined : Number(word(ins.flags.retries));
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0)) throw invalid(`--retries "${ins.flags.retries}" is not a whole number`);
  const hc = { Test: test, Interval: ns('interval'), Timeout: ns('timeout'), StartPeriod: ns('start-period'), StartInterval: ns('start-interval'), Retries: retries };
  const clean = Object.fromEntries(Object.entries(hc).filter(([, v]) => v !== undefined));
  return { text: `HEALTHCHECK ${JSON.stringify(clean)}`, change: (c) => void (c.Healthcheck = clean) };
}
