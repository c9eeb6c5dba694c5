import { describe, expect, it } from 'vitest';
import { newState, type Instance } from '../core/instance.js';
import { EventLog } from '../core/events.js';
import type { Image } from '../core/image.js';
import { containerFilter, CONTAINER_FILTERS } from './container-filter.js';
import { eventFilter, EVENT_FILTERS } from './event-filter.js';
import { labelMatches, nameMatches, parseFilters } from './filters.js';

const inst = (name: string, o: Partial<Instance['state']> & { labels?: Record<string, string>; image?: string; imageId?: string; net?: string; type?: 'vm'; createdAt?: string } = {}): Instance =>
  ({
    id: `${name.padEnd(8, '0').replace(/[^0-9a-f]/g, 'a')}${'0'.repeat(56)}`,
    name,
    type: o.type ?? 'container',
    createdAt: o.createdAt ?? '2024-01-01T00:00:00Z',
    config: { image: o.image ?? 'busybox', imageId: o.imageId ?? 'sha256:bb', labels: o.labels ?? {}, networks: o.net ? [{ network: o.net, networkId: `${o.net}id0000` }] : [] },
    state: { ...newState(), ...o },
  }) as unknown as Instance;

describe('the filters query', () => {
  it("takes docker's two shapes and refuses unknown names, non-strings and floods", () => {
    expect([...parseFilters('{"name":["a","b"],"label":{"x=1":true}}', CONTAINER_FILTERS)]).toEqual([
      ['name', ['a', 'b']],
      ['label', ['x=1']],
    ]);
    expect(parseFilters(undefined, CONTAINER_FILTERS).size).toBe(0);
    expect(() => parseFilters('{"nope":["x"]}', CONTAINER_FILTERS)).toThrow("invalid filter 'nope'");
    expect(() => parseFilters('{"name":[1]}', CONTAINER_FILTERS)).toThrow('values must be strings');
    expect(() => parseFilters('[1]', CONTAINER_FILTERS)).toThrow('expected a JSON object');
    expect(() => parseFilters('{', CONTAINER_FILTERS)).toThrow('not JSON');
    expect(() => parseFilters(['{}', '{}'], CONTAINER_FILTERS)).toThrow('given once');
    expect(() => parseFilters(JSON.stringify({ name: Array.from({ length: 65 }, (_, i) => `n${i}`) }), CONTAINER_FILTERS)).toThrow('at most 64');
  });

  it('matches names as substrings, anchored by ^ and $ (with or without docker\'s leading /)', () => {
    expect(nameMatches('web', 'my-web-1')).toBe(true);
    expect(nameMatches('^web', 'my-web')).toBe(false);
    expect(nameMatches('^web$', 'web')).toBe(true);
    expect(nameMatches('^/web$', 'web')).toBe(true);
    expect(nameMatches('1$', 'web-1')).toBe(true);
    expect(nameMatches('(a+)+$', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!')).toBe(false); // no regex: no backtracking
  });

  it('matches labels by key or key=value', () => {
    expect(labelMatches('a', { a: '' })).toBe(true);
    expect(labelMatches('a=1', { a: '1' })).toBe(true);
    expect(labelMatches('a=1', { a: '2' })).toBe(false);
    expect(labelMatches('toString', {})).toBe(false);
  });
});

describe('ps filters', () => {
  const all = [
    inst('web', { status: 'running', labels: { tier: 'front', team: 'a' }, net: 'backend', createdAt: '2024-01-01T00:00:01Z' }),
    inst('db', { status: 'exited', exitCode: 3, labels: { tier: 'data' }, image: 'postgres', imageId: 'sha256:pg', createdAt: '2024-01-01T00:00:02Z' }),
    inst('vm1', { status: 'running', type: 'vm', createdAt: '2024-01-01T00:00:03Z' }),
  ];
  const images = [
    { id: 'sha256:bb', tags: ['busybox:latest'], diffIds: ['l1'] },
    { id: 'sha256:pg', tags: ['postgres:latest'], diffIds: ['l1', 'l2'] },
  ] as unknown as Image[];
  const names = (q: object) => all.filter(containerFilter(parseFilters(JSON.stringify(q), CONTAINER_FILTERS), all, images)).map((i) => i.name);

  it('name, label, status, id, network, exited, type, isolation', () => {
    expect(names({ name: ['w'] })).toEqual(['web']);
    expect(names({ label: ['tier'] })).toEqual(['web', 'db']);
    expect(names({ label: ['tier=data'] })).toEqual(['db']);
    // Every label given must match (docker's), unlike other filters' values.
    expect(names({ label: ['tier', 'team=a'] })).toEqual(['web']);
    expect(names({ label: ['tier=front', 'tier=data'] })).toEqual([]);
    expect(names({ status: ['running'] })).toEqual(['web', 'vm1']);
    expect(names({ status: ['exited', 'running'], label: ['tier'] })).toEqual(['web', 'db']);
    expect(names({ id: [all[1].id.slice(0, 6)] })).toEqual(['db']);
    expect(names({ network: ['backend'] })).toEqual(['web']);
    expect(names({ exited: ['3'] })).toEqual(['db']);
    expect(names({ type: ['vm'] })).toEqual(['vm1']);
    expect(names({ isolation: ['container'] })).toEqual(['web', 'db']);
  });

  it('ancestor: the image by name or id, and the images built on it', () => {
    expect(names({ ancestor: ['busybox'] })).toEqual(['web', 'db', 'vm1']);
    expect(names({ ancestor: ['postgres'] })).toEqual(['db']);
  });

  it('before and since: by a container\'s creation', () => {
    expect(names({ before: ['db'] })).toEqual(['web']);
    expect(names({ since: ['web'] })).toEqual(['db', 'vm1']);
    expect(() => names({ since: ['nosuch'] })).toThrow('container "nosuch"');
  });

  it('refuses a status docker does not have', () => {
    expect(() => names({ status: ['up'] })).toThrow("invalid filter 'status=up'");
    expect(() => names({ exited: ['x'] })).toThrow("invalid filter 'exited=x'");
  });
});

describe('event filters and the event log', () => {
  const log = new EventLog(5);
  log.publish('container', 'start', 'c1', { name: 'web', image: 'busybox', tier: 'front' });
  log.publish('vm', 'start', 'v1', { name: 'db', image: 'debian-min' });
  log.publish('image', 'tag', 'sha256:abcdef', { name: 'x:1' });
  log.publish('network', 'connect', 'n1', { name: 'backend', container: 'c1', type: 'bridge' });
  log.publish('container', 'exec_create: sh -c ls', 'c1', { name: 'web', image: 'busybox', execID: 'e1' });
  const pick = (q: object) =>
    log
      .replay({ sinceMs: 0 })
      .filter(eventFilter(parseFilters(JSON.stringify(q), EVENT_FILTERS)))
      .map((e) => `${e.Type} ${e.Action}`);

  it('gives events in docker\'s shape, its older fields only for containers, VMs and images', () => {
    const [c, , , n] = log.replay({ sinceMs: 0 });
    expect(Object.keys(c)).toEqual(['status', 'id', 'from', 'Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
    expect(c).toMatchObject({ status: 'start', id: 'c1', from: 'busybox', Actor: { ID: 'c1', Attributes: { name: 'web' } }, scope: 'local' });
    expect(Object.keys(n)).toEqual(['Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
  });

  it('filters by type, event (exec_create with its command too), container (VMs too), vm, image, network, label', () => {
    expect(pick({ type: ['vm'] })).toEqual(['vm start']);
    expect(pick({ event: ['start'] })).toEqual(['container start', 'vm start']);
    expect(pick({ event: ['exec_create'] })).toEqual(['container exec_create: sh -c ls']);
    expect(pick({ container: ['web'] })).toEqual(['container start', 'container exec_create: sh -c ls']);
    expect(pick({ container: ['db'] })).toEqual(['vm start']);
    expect(pick({ vm: ['db'] })).toEqual(['vm start']);
    expect(pick({ image: ['busybox'] })).toEqual(['container start', 'container exec_create: sh -c ls']);
    expect(pick({ image: ['x:1'] })).toEqual(['image tag']);
    expect(pick({ image: ['abcdef'] })).toEqual(['image tag']);
    expect(pick({ network: ['backend'] })).toEqual(['network connect']);
    expect(pick({ label: ['tier=front'] })).toEqual(['container start']);
    expect(pick({ label: ['tier=front', 'image=busybox'] })).toEqual(['container start']);
    expect(pick({ label: ['tier=front', 'image=other'] })).toEqual([]);
    expect(pick({ type: ['container'], event: ['start', 'die'] })).toEqual(['container start']);
  });

  it('keeps only the last events, and replays a window of time', () => {
    log.publish('container', 'die', 'c1', { name: 'web', exitCode: '0' });
    expect(log.replay({ sinceMs: 0 })).toHaveLength(5);
    expect(log.replay({ sinceMs: 0 })[0].Type).toBe('vm');
    expect(log.replay({ sinceMs: Date.now() + 1000 })).toHaveLength(0);
    expect(log.replay({ sinceMs: 0, untilMs: 0 })).toHaveLength(0);
  });

  it('hands each event to subscribers; one that throws does not stop the others', () => {
    const seen: string[] = [];
    const offA = log.subscribe(() => {
      throw new Error('closed stream');
    });
    const offB = log.subscribe((e) => seen.push(e.Action));
    log.publish('network', 'create', 'n2', { name: 'x' });
    offA();
    offB();
    log.publish('network', 'destroy', 'n2', { name: 'x' });
    expect(seen).toEqual(['create']);
  });
});
