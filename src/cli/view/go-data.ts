import { goMap } from '../template/index.js';

/**
 * JSON documents as template data (template/values.ts): objects are Go
 * structs, except those under the keys docker's Go types make maps (labels,
 * networks, port maps, options), which become Go maps, so that a missing
 * label is `<no value>` while a misspelt field is an error, as in docker.
 */
const MAP_KEYS = new Set(['Labels', 'labels', 'ExposedPorts', 'PortBindings', 'Ports', 'Networks', 'Volumes', 'Containers', 'Options', 'DriverOpts', 'Attributes', 'Runtimes', 'runtimes']);

export function toGo(v: unknown, asMap = false): unknown {
  if (Array.isArray(v)) return v.map((x) => toGo(x));
  if (v === null || typeof v !== 'object') return v;
  const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toGo(x, MAP_KEYS.has(k))] as const);
  if (asMap) return goMap(Object.fromEntries(entries));
  return Object.fromEntries(entries);
}

/**
 * What an inspect template sees: docker's document (capitalized fields, as
 * docker's) and Hull's own record (its camelCase fields) side by side; the
 * two never share a key, since Go field names start upper-case.
 */
export function inspectData(docker: object, hull: object): unknown {
  return { ...(toGo(docker) as object), ...(toGo(hull) as object) };
}
