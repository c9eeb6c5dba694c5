import { basename } from 'node:path';
import { HullError } from '../../core/errors.js';
import type { AppSpec } from './app.js';
import { interpolate } from './interpolate.js';
import { normalize } from './normalize.js';
import { IGNORED_SERVICE_KEYS, fileSchema, hullServiceSchema, type HullServiceExt } from './schema.js';
import { ComposeSource, type Path } from './source.js';
import { zodFailure } from './zod-errors.js';

export interface ComposeInput {
  /** The file's name as the user gave it (for messages). */
  file: string;
  content: string;
  /** The app's name (`-p`); default: the file's `name:`, else its directory's name (as Compose). */
  project?: string;
  /** The directory relative paths in the file are resolved against; absent: they are refused. */
  dir?: string;
  /** The client's environment (only the variables the file names need be sent). */
  env?: Record<string, string>;
  envFiles?: Record<string, string>;
}

export const APP_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Read a Compose file as `docker stack deploy` does: interpolate, validate
 * strictly (each error names file, line and field), drop what swarm ignores
 * (with a warning), and normalize into the app Hull keeps.
 */
export function readCompose(input: ComposeInput): { app: AppSpec; warnings: string[] } {
  const src = ComposeSource.parse(input.file, input.content);
  const warnings: string[] = [];
  const fail = (path: Path, why: string) => src.error(path, why);
  if (!src.value || typeof src.value !== 'object' || Array.isArray(src.value)) throw fail([], 'a Compose file is a map with `services:`');
  const raw = interpolate(src.value, input.env ?? {}, (m) => warnings.push(m), fail) as Record<string, unknown>;
  const { cleaned, ext, ignored } = takeExtensions(raw, src);
  if (ignored.length) warnings.push(`Ignoring unsupported options: ${[...new Set(ignored)].sort().join(', ')}`);
  const parsed = fileSchema.safeParse(cleaned);
  if (!parsed.success) throw zodFailure(parsed.error, src);
  // As Compose: -p, else the file's `name:`, else the name of the directory it is in.
  const project = input.project ?? parsed.data.name ?? basename(input.dir ?? '').toLowerCase().replace(/[^a-z0-9_-]/g, '');
  if (!APP_NAME_RE.test(project)) throw new HullError('invalid', `app name "${project}": use lowercase letters, digits, - and _ (give one with -p NAME)`);
  if (!Object.keys(parsed.data.services).length) throw fail(['services'], 'no services');
  const app = normalize(parsed.data, ext, { app: project, dir: input.dir, env: input.env ?? {}, envFiles: input.envFiles ?? {}, fail, warn: (m) => warnings.push(m) });
  return { app, warnings };
}

/** Take `x-hull` out of each service (validated), drop every other `x-` key, and the keys swarm ignores. */
function takeExtensions(raw: Record<string, unknown>, src: ComposeSource) {
  const ext: Record<string, HullServiceExt> = {};
  const ignored: string[] = [];
  const cleaned = dropX(raw) as Record<string, unknown>;
  const services = raw.services;
  if (services && typeof services === 'object' && !Array.isArray(services)) {
    const out: Record<string, unknown> = {};
    for (const [name, svc] of Object.entries(services as Record<string, unknown>)) {
      if (!svc || typeof svc !== 'object' || Array.isArray(svc)) {
        out[name] = svc;
        continue;
      }
      const s = { ...(svc as Record<string, unknown>) };
      if (s['x-hull'] !== undefined) {
        const r = hullServiceSchema.safeParse(s['x-hull']);
        if (!r.success) throw zodFailure(r.error, src, ['services', name, 'x-hull']);
        ext[name] = r.data;
      }
      for (const k of IGNORED_SERVICE_KEYS) {
        if (k in s) {
          ignored.push(k);
          delete s[k];
        }
      }
      out[name] = dropX(s);
    }
    cleaned.services = out;
  }
  return { cleaned, ext, ignored };
}

function dropX(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropX);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('x-')).map(([k, x]) => [k, dropX(x)]));
}

export type { AppSpec } from './app.js';
