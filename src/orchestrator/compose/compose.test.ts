import { describe, expect, it } from 'vitest';
import { readCompose } from './index.js';
import { substitute } from './interpolate.js';
import { splitWords } from './words.js';

const SHOP = `
name: shop
services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /www
    environment:
      MODE: prod
      FROM_CLIENT:
    ports: ["8080:80"]
    networks:
      appnet:
        aliases: [www]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1/"]
      interval: 2s
      retries: 2
    deploy:
      replicas: 3
      resources:
        limits: { cpus: "0.5", memory: 64M }
      update_config:
        parallelism: 2
        order: start-first
        monitor: 3s
      restart_policy:
        condition: on-failure
  db:
    x-hull:
      vm: { image: debian-min, disk: 2g, user_script: "echo hi" }
    networks: [appnet]
    deploy:
      endpoint_mode: dnsrr
networks:
  appnet:
    name: appnet
`;

const read = (content: string, extra: Partial<Parameters<typeof readCompose>[0]> = {}) => readCompose({ file: 'shop.yaml', content, dir: '/srv/shop', ...extra });

describe('readCompose', () => {
  it('without the file\'s directory (pasted in the dashboard), refuses a relative bind path, keeps an absolute one', () => {
    const file = (src: string) => `name: shop\nservices:\n  web:\n    image: busybox\n    volumes: ["${src}:/data"]\n`;
    expect(() => readCompose({ file: 'compose.yaml', content: file('./data') })).toThrow(/"\.\/data": a relative path needs the file's directory/);
    expect(readCompose({ file: 'compose.yaml', content: file('/srv/data') }).app.services[0].spec.mounts[0]).toMatchObject({ type: 'bind', source: '/srv/data' });
    expect(read(file('./data')).app.services[0].spec.mounts[0]).toMatchObject({ source: '/srv/shop/data' });
  });

  it('normalizes a two-service app: containers and VMs, defaults as swarm with Hull’s rollback', () => {
    const { app, warnings } = read(SHOP, { env: { FROM_CLIENT: 'x' } });
    expect(warnings).toEqual([]);
    expect(app.name).toBe('shop');
    const web = app.services.find((s) => s.name === 'web')!;
    expect(web.replicas).toBe(3);
    expect(web.spec.command).toEqual(['httpd', '-f', '-p', '80', '-h', '/www']);
    expect(web.spec.env).toEqual(['MODE=prod', 'FROM_CLIENT=x']);
    expect(web.spec.ports).toEqual([{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress', hostIp: '' }]);
    expect(web.spec.networks).toEqual([{ name: 'appnet', aliases: ['www'] }]);
    expect(web.spec.resources).toEqual({ cpus: 0.5, memoryBytes: 64 * 1024 * 1024 });
    expect(web.spec.healthcheck).toMatchObject({ probe: { exec: ['wget', '-qO-', 'http://127.0.0.1/'] }, intervalMs: 2000, retries: 2 });
    expect(web.spec.update).toMatchObject({ parallelism: 2, order: 'start-first', monitorMs: 3000, failureAction: 'rollback' });
    expect(web.spec.restart).toMatchObject({ condition: 'on-failure', delayMs: 1000, maxDelayMs: 30_000, windowMs: 600_000 });
    const db = app.services.find((s) => s.name === 'db')!;
    expect(db.spec.kind).toBe('vm');
    expect(db.spec.vm).toEqual({ image: 'debian-min', diskBytes: 2 * 1024 ** 3, userScript: 'echo hi' });
    expect(db.spec.endpointMode).toBe('dnsrr');
    expect(app.networks.map((n) => n.name)).toEqual(['appnet']);
  });

  it('drops an unset variable given as a bare environment key, as compose does', () => {
    const web = read(SHOP).app.services[0];
    expect(web.spec.env).toEqual(['MODE=prod']);
  });

  it('names the file, line and field of an unknown field', () => {
    const bad = SHOP.replace('      replicas: 3', '      replicas: 3\n      replica: 4');
    expect(() => read(bad)).toThrow(/^shop\.yaml:20:7: services\.web\.deploy\.replica: unknown field "replica"$/);
  });

  it('names the file, line and field of a wrong type', () => {
    const bad = SHOP.replace('replicas: 3', 'replicas: three');
    expect(() => read(bad)).toThrow(/^shop\.yaml:19:17: services\.web\.deploy\.replicas: /);
  });

  it('refuses impossible values with the field', () => {
    expect(() => read(SHOP.replace('replicas: 3', 'replicas: -1'))).toThrow(/services\.web\.deploy\.replicas: must be between 0 and 1000/);
    expect(() => read(SHOP.replace('cpus: "0.5"', 'cpus: "0"'))).toThrow(/limits\.cpus: must be greater than zero/);
    expect(() => read(SHOP.replace('ports: ["8080:80"]', 'ports: ["8080:99999"]'))).toThrow(/shop\.yaml:\d+:\d+: services\.web\.ports: invalid port spec/);
    expect(() => read(SHOP.replace('memory: 64M', 'memory: lots'))).toThrow(/limits\.memory: invalid size "lots"/);
    expect(() => read(SHOP.replace('monitor: 3s', 'monitor: soon'))).toThrow(/update_config: invalid monitor "soon"/);
  });

  it('refuses a network the file does not declare, and an image-less service', () => {
    expect(() => read(SHOP.replace('networks: [appnet]', 'networks: [other]'))).toThrow(/services\.db\.networks\.other: network "other" is not declared/);
    expect(() => read('services:\n  a:\n    command: x\n')).toThrow(/shop\.yaml:3:5: services\.a: no image/);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(() => read('services:\n  web:\n    image: [busybox\n')).toThrow(/^shop\.yaml:\d+:\d+: /);
    expect(() => read('services:\n  web:\n    image: a\n    image: b\n')).toThrow(/^shop\.yaml:4:5: .*unique/i);
  });

  it('ignores what docker stack deploy ignores, saying so', () => {
    const { app, warnings } = read('services:\n  web:\n    image: busybox\n    build: .\n    restart: always\n    depends_on: [db]\n    x-other: 1\nx-common: &c {}\n');
    expect(warnings).toEqual(['Ignoring unsupported options: build, depends_on, restart']);
    expect(app.services[0].spec.image).toBe('busybox');
  });

  it('interpolates from the client environment, with defaults and required values', () => {
    const f = 'services:\n  web:\n    image: ${IMG:-busybox}\n    command: echo $$HOME ${WHO:?who is needed}\n';
    expect(read(f, { env: { WHO: 'me' } }).app.services[0].spec).toMatchObject({ image: 'busybox', command: ['echo', '$HOME', 'me'] });
    expect(() => read(f)).toThrow(/shop\.yaml:4:14: services\.web\.command: required variable WHO is missing a value: who is needed/);
  });

  it('makes the app default network and names non-external resources after the app', () => {
    const { app } = read('services:\n  web:\n    image: busybox\n    volumes: [data:/data, ./site:/www:ro]\nvolumes:\n  data: {}\n');
    expect(app.name).toBe('shop'); // the directory's name, as Compose
    expect(app.networks).toEqual([{ key: 'default', name: 'shop_default', external: false, internal: false, labels: {} }]);
    expect(app.volumes.map((v) => v.name)).toEqual(['shop_data']);
    expect(app.services[0].spec.mounts).toEqual([
      { type: 'volume', source: 'shop_data', target: '/data', readOnly: false },
      { type: 'bind', source: '/srv/shop/site', target: '/www', readOnly: true },
    ]);
  });

  it('reads x-hull autoscaling and checks it against replicas', () => {
    const f = 'services:\n  web:\n    image: busybox\n    deploy: {replicas: 2}\n    x-hull:\n      autoscale: {min: 1, max: 5, target_cpu: 50, scale_down_window: 30s}\n';
    expect(read(f).app.services[0].spec.autoscale).toEqual({ min: 1, max: 5, targetCpuPercent: 50, scaleDownWindowMs: 30_000 });
    expect(() => read(f.replace('replicas: 2', 'replicas: 9'))).toThrow(/9 replicas is outside/);
    expect(() => read(f.replace('target_cpu: 50', 'target_cpu: 50, burst: 2'))).toThrow(/services\.web\.x-hull\.autoscale\.burst: unknown field/);
  });

  it('reads healthchecks in every form Compose allows', () => {
    const hc = (t: string) => read(`services:\n  web:\n    image: busybox\n    healthcheck:\n      test: ${t}\n`).app.services[0].spec.healthcheck;
    expect(hc('wget -q localhost')).toMatchObject({ probe: { exec: ['/bin/sh', '-c', 'wget -q localhost'] }, intervalMs: 30_000, timeoutMs: 30_000, retries: 3 });
    expect(hc('["CMD-SHELL", "true"]')).toMatchObject({ probe: { exec: ['/bin/sh', '-c', 'true'] } });
    expect(hc('["NONE"]')).toBeNull();
    expect(() => hc('["CMD"]')).toThrow(/healthcheck\.test: use/);
  });

  it('refuses hostile or absurd input clearly', () => {
    expect(() => read('- a\n- b\n')).toThrow(/a Compose file is a map/);
    expect(() => read('x'.repeat(5 * 1024 * 1024))).toThrow(/larger than 4 MiB/);
    const bomb = 'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\nservices: {}\n';
    expect(() => read(bomb)).toThrow(/shop\.yaml/);
    expect(() => read('services:\n  Web:\n    image: busybox\n')).toThrow(/services\.Web: a service name is lowercase/);
  });
});

describe('substitute', () => {
  it('follows compose’s operators', () => {
    const env = { A: 'a', E: '' };
    expect(substitute('${A}-$A-${B:-b}-${E:-e}-${E-e}-${A:+y}-${B+y}-$$A', env)).toBe('a-a-b-e--y--$A');
    expect(() => substitute('${E:?empty}', env)).toThrow(/E is missing a value: empty/);
    expect(() => substitute('${A', env)).toThrow(/without its/);
  });
});

describe('splitWords', () => {
  it('splits as a shell would, without expanding', () => {
    expect(splitWords(`sh -c 'echo $HOME; exit 3' "a \\"b\\"" c\\ d`)).toEqual(['sh', '-c', 'echo $HOME; exit 3', 'a "b"', 'c d']);
  });
});
