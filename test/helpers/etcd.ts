import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../src/core/poll.js';
import { freePort } from './registry.js';

export const ETCD = '/usr/bin/etcd';
export const haveEtcd = existsSync(ETCD);

/** A one-member etcd on free 127.0.0.1 ports with its own data dir; `stop()` kills it and removes the dir. */
export interface TestEtcd {
  endpoint: string;
  child: ChildProcess;
  startMs: number;
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<TestEtcd> {
  const t0 = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'hull-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  // argv as in PLATFORM.md
  const child = spawn(
    ETCD,
    [
      '--name', 'n1', '--data-dir', join(dir, 'data'),
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `n1=${peerUrl}`,
      '--logger', 'zap', '--log-level', 'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT'); // a test may have paused it
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`etcd exited ${child.exitCode}: ${stderr}`);
        const res = await fetch(`${endpoint}/health`).catch(() => undefined);
        return res?.ok && ((await res.json()) as { health?: string }).health === 'true';
      },
      15_000,
      `etcd at ${endpoint}`,
      20,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { endpoint, child, startMs: Date.now() - t0, stop };
}

/** A cluster of `n` etcd members on free 127.0.0.1 ports, each with its own data dir; `stop()` kills them all. */
export async function startEtcdCluster(n: number): Promise<{ members: TestEtcd[]; endpoints: string[]; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hull-etcdc-'));
  const ports = [];
  for (let i = 0; i < n; i++) ports.push([await freePort(), await freePort()]);
  const cluster = ports.map(([, peer], i) => `m${i}=http://127.0.0.1:${peer}`).join(',');
  const members: TestEtcd[] = [];
  const t0 = Date.now();
  for (const [i, [client, peer]] of ports.entries()) {
    const endpoint = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const child = spawn(
      ETCD,
      [
        '--name', `m${i}`, '--data-dir', join(dir, `m${i}`),
        '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
        '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', cluster,
        '--initial-cluster-state', 'new', '--heartbeat-interval', '50', '--election-timeout', '500',
        '--logger', 'zap', '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    };
    members.push({ endpoint, child, startMs: 0, stop });
  }
  const stopAll = async () => {
    await Promise.all(members.map((m) => m.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const m of members) {
      await waitFor(
        async () => {
          if (m.child.exitCode !== null) throw new Error(`etcd member exited ${m.child.exitCode}`);
          const res = await fetch(`${m.endpoint}/health`).catch(() => undefined);
          return res?.ok && ((await res.json()) as { health?: string }).health === 'true';
        },
        20_000,
        `etcd member at ${m.endpoint}`,
        20,
      );
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  for (const m of members) m.startMs = Date.now() - t0;
  return { members, endpoints: members.map((m) => m.endpoint), stop: stopAll };
}
