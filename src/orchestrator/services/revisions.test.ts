import { describe, expect, it } from 'vitest';
import { readCompose } from '../compose/index.js';
import { applyService, newRevision, templateHash } from './revisions.js';

const app = (yaml: string) => readCompose({ file: 'a.yaml', content: yaml, dir: '/srv/a' }).app.services[0];
const base = `services:
  web:
    image: busybox
    command: httpd -f
    deploy:
      replicas: 2
`;
const want = (yaml: string, imageId = 'sha256:aaa') => ({ ...app(yaml), app: 'a', imageId, id: 'svc1' });
const T0 = new Date('2026-12-01T00:00:00Z');

describe('applying a service', () => {
  const created = applyService(undefined, want(base), T0).service;

  it('creates revision 1, rolling out from nothing', () => {
    expect(created).toMatchObject({ revision: 1, replicas: 2, status: { rollout: { state: 'progressing', from: 0, to: 1 } } });
    expect(created.history).toHaveLength(1);
  });

  it('changes nothing when applied again', () => {
    expect(applyService(created, want(base), T0)).toMatchObject({ change: 'none', diff: [] });
  });

  it('scales without a revision, and changes service-level settings in place', () => {
    const s = applyService(created, want(base.replace('replicas: 2', 'replicas: 5')), T0);
    expect(s).toMatchObject({ change: 'scale', diff: ['replicas: 2 → 5'], service: { revision: 1, replicas: 5 } });
    const c = applyService(created, want(base.replace('replicas: 2', 'replicas: 2\n      update_config: {parallelism: 3}')), T0);
    expect(c).toMatchObject({ change: 'config', service: { revision: 1 } });
    expect(c.diff).toEqual(['update.parallelism: 1 → 3']);
  });

  it('makes a new revision when the replica template changes, or the tag moved to another image', () => {
    const u = applyService(created, want(base.replace('httpd -f', 'httpd -f -v')), T0);
    expect(u).toMatchObject({ change: 'update', service: { revision: 2, status: { rollout: { state: 'progressing', to: 2 } } } });
    expect(u.diff).toEqual(['command: ["httpd","-f"] → ["httpd","-f","-v"]']);
    const moved = applyService(created, want(base, 'sha256:bbb'), T0);
    expect(moved.change).toBe('update');
    expect(moved.diff).toEqual(['image id: aaa → bbb (the tag moved)']);
  });

  it('rolls back from the last good revision, and an undo reuses an earlier template’s hash', () => {
    const done = { ...created, status: { ...created.status, rollout: { ...created.status.rollout, state: 'complete' as const }, stableRevision: 1 } };
    const bad = applyService(done, want(base.replace('busybox', 'busybox:nope')), T0).service;
    expect(bad.status.rollout).toMatchObject({ from: 1, to: 2 });
    const back = newRevision(bad, created.spec, 'sha256:aaa', 'rollback: web.1 exited', T0, bad.replicas, true);
    expect(back).toMatchObject({ revision: 3, status: { rollout: { state: 'rolling-back', from: 2, to: 3 } } });
    expect(back.history.map((h) => h.hash)).toEqual([templateHash(created.spec, 'sha256:aaa'), expect.any(String), templateHash(created.spec, 'sha256:aaa')]);
  });

  it('keeps an autoscaled service’s replica count while it is inside the bounds', () => {
    const scaled = `${base}    x-hull:\n      autoscale: {min: 1, max: 6, target_cpu: 50}\n`;
    const cur = { ...applyService(undefined, want(scaled), T0).service, replicas: 4 };
    expect(applyService(cur, want(scaled), T0).change).toBe('none');
    expect(applyService(cur, want(scaled.replace('max: 6', 'max: 3').replace('replicas: 2', 'replicas: 3')), T0).service.replicas).toBe(3);
  });
});
