import { invalid } from '../../core/errors.js';
import type { NodeView } from './node.js';

/**
 * Swarm's placement constraints: `node.id`, `node.hostname`, `node.role`,
 * `node.platform.os`, `node.platform.arch` and `node.labels.KEY`, compared
 * with `==` or `!=`. Compiled once per service into a predicate.
 */
export type Constraint = (n: NodeView) => boolean;

export function compileConstraint(expr: string): Constraint {
  const m = /^\s*([a-zA-Z0-9_.-]+)\s*(==|!=)\s*(.*?)\s*$/.exec(expr);
  if (!m) throw invalid(`placement constraint "${expr}": use ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE`);
  const [, attr, op, value] = m;
  const get = attribute(attr, expr);
  return op === '==' ? (n) => get(n) === value : (n) => get(n) !== value;
}

function attribute(attr: string, expr: string): (n: NodeView) => string | undefined {
  switch (attr) {
    case 'node.id':
      return (n) => n.id;
    case 'node.hostname':
      return (n) => n.hostname;
    case 'node.role':
      return (n) => n.role;
    case 'node.platform.os':
      return () => 'linux';
    case 'node.platform.arch':
      return (n) => n.arch;
  }
  if (attr.startsWith('node.labels.') && attr.length > 'node.labels.'.length) {
    const key = attr.slice('node.labels.'.length);
    return (n) => n.labels[key];
  }
  throw invalid(`placement constraint "${expr}": unknown attribute "${attr}" (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.KEY)`);
}

/** All of them, as one predicate. */
export function compileConstraints(exprs: string[]): Constraint {
  const cs = exprs.map(compileConstraint);
  return (n) => cs.every((c) => c(n));
}
