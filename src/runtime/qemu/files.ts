import { basename, join } from 'node:path';

/**
 * The files of one VM, all under <root>/vms/<id>/ (a unix socket path must fit
 * in 107 bytes, hence the short names):
 *
 *   vm.json        what to run: the machine, written at create (see spec.ts)
 *   disk.qcow2     the VM's disk: a linked clone of its image's base disk
 *   config.tar     first-boot configuration, given to the guest over fw_cfg
 *   qemu.pid       written by QEMU (-pidfile); QEMU runs daemonized, outliving Hull
 *   qmp.sock       QMP (Hull holds one connection per running VM)
 *   console.sock   the serial console (one client at a time)
 *   console.log    everything the serial console printed since QEMU started
 *   agent.sock     the guest agent's virtio-serial port
 *   exit.json      how the last run ended (the code also goes to <root>/exits/<id>)
 *   loadvm         a full snapshot to resume from at the next start
 *   qemu.log       what QEMU wrote to stdout and stderr in its last run (its start-up errors)
 *   q/             where QEMU, running as the VM's own user, binds its sockets; each is moved
 *                  up to its name above once bound (confine.ts says why)
 */
export class VmFiles {
  constructor(readonly dir: string) {}
  get spec() {
    return join(this.dir, 'vm.json');
  }
  get disk() {
    return join(this.dir, 'disk.qcow2');
  }
  get config() {
    return join(this.dir, 'config.tar');
  }
  get pid() {
    return join(this.dir, 'qemu.pid');
  }
  get qmp() {
    return join(this.dir, 'qmp.sock');
  }
  get console() {
    return join(this.dir, 'console.sock');
  }
  get consoleLog() {
    return join(this.dir, 'console.log');
  }
  get agent() {
    return join(this.dir, 'agent.sock');
  }
  get exit() {
    return join(this.dir, 'exit.json');
  }
  get loadvm() {
    return join(this.dir, 'loadvm');
  }
  get qemuLog() {
    return join(this.dir, 'qemu.log');
  }
  get bindDir() {
    return join(this.dir, 'q');
  }
  /** Where QEMU binds the socket that Hull then finds at `path`. */
  bindPath(path: string): string {
    return join(this.bindDir, basename(path));
  }
  /** The sockets QEMU listens on. */
  get sockets() {
    return [this.qmp, this.console, this.agent];
  }
  /** What a stopped VM does not need: removed when it stops, so a new QEMU starts clean. */
  get runtimeFiles() {
    return [this.pid, this.qmp, this.console, this.agent];
  }
}
