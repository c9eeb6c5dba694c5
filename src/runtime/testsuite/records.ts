import { newId } from '../../core/ids.js';
import { newState, type Instance, type Isolation } from '../../core/instance.js';
import { vmInstance } from '../qemu/testing.js';
import { READY_LINE, Unsupported, programArgv, type Program } from './fixture.js';

/** Instance records for the suite's fixtures, as the engine's records.ts makes them for `hull create`. */

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A container (or, with isolation 'vm', a VM-isolated one) of a busybox image running `program`. */
export function containerRecord(name: string, program: Program, o: { runtime: string; isolation?: Isolation; memoryBytes: number }): Instance {
  return {
    id: newId(),
    name,
    type: 'container',
    createdAt: new Date().toISOString(),
    config: {
      image: 'busybox',
      imageId: '',
      cmd: programArgv(program),
      entrypoint: [],
      env: [PATH],
      workingDir: '',
      user: '',
      tty: false,
      openStdin: program.kind === 'shell',
      autoRemove: false,
      runtime: o.runtime,
      userns: false,
      noNewPrivileges: false,
      resources: { memoryBytes: o.memoryBytes, pidsLimit: 64 },
      restartPolicy: { name: 'no' },
      labels: {},
      hostname: '',
      networkMode: 'none',
      ...(o.isolation ? { isolation: o.isolation } : {}),
    },
    state: newState(),
  };
}

/**
 * A VM of Hull's guest. It has no program of the user's: its run is the
 * guest's, from boot to power-off. A program that exits 0 is a first-boot
 * script that powers the guest off; one that ignores SIGTERM is a guest whose
 * power button does nothing; its shell is the serial console. It cannot end
 * with another code by itself (a guest panic reboots it) nor run a missing
 * command.
 */
export function vmRecord(name: string, program: Program, memoryBytes: number): Instance {
  return vmInstance(name, { memoryBytes, vm: { userScript: vmScript(program) } });
}

function vmScript(p: Program): string | undefined {
  switch (p.kind) {
    case 'exit':
      if (p.code !== 0) throw new Unsupported(`a VM ends by itself only by powering off (exit 0), not with ${p.code}`);
      // In the background: the first-boot script must end for the guest to become ready.
      return p.afterMs ? `(sleep ${p.afterMs / 1000}; poweroff) </dev/null >/dev/null 2>&1 &\n` : 'poweroff\n';
    case 'ignore-term':
      // acpid (started after this script) runs this for the power button: nothing.
      return `printf '#!/bin/sh\\necho ${READY_LINE}-ignored\\n' >/etc/acpi/PWRF/00000080\n`;
    case 'sleep':
    case 'shell':
      return undefined;
    case 'missing':
      throw new Unsupported('a VM runs no command of the user\'s');
  }
}
