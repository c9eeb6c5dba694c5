import type { Command } from 'commander';
import type { Client } from '../client.js';
import { enc } from '../context.js';
import { table } from '../format.js';

interface Disk {
  volumeId: string;
  name: string;
}

/** `hull vm disk attach|detach|ls`: block volumes as a VM's disks, hot-plugged while it runs. */
export function registerDisk(vm: Command, client: () => Client): void {
  const disk = vm.command('disk').description("a VM's block-volume disks (hot-plugged while it runs)");
  disk
    .command('attach')
    .description('attach a block volume: the running guest sees a new disk (/dev/vdX, serial = the volume name)')
    .argument('<vm>')
    .argument('<volume>')
    .action(async (ref: string, volume: string) => {
      await client().call('POST', `/v1/vms/${enc(ref)}/disks`, { volume });
    });
  disk
    .command('detach')
    .description('detach a block volume (the guest must let go of it: unmount it first)')
    .argument('<vm>')
    .argument('<volume>')
    .action(async (ref: string, volume: string) => {
      await client().call('DELETE', `/v1/vms/${enc(ref)}/disks/${enc(volume)}`);
    });
  disk
    .command('ls')
    .alias('list')
    .description("list a VM's attached volumes")
    .argument('<vm>')
    .action(async (ref: string) => {
      const xs = await client().call<Disk[]>('GET', `/v1/vms/${enc(ref)}/disks`);
      process.stdout.write(`${table(['VOLUME', 'ID'], xs.map((d) => [d.name, d.volumeId.slice(0, 12)]))}\n`);
    });
}
