/**
 * Each verb and flag beside docker's, as typed data: docs/cli.md's
 * "beside docker" columns are generated from it (scripts/gen-cli-docs.ts),
 * and the generator refuses a flag this file does not place, so the table
 * cannot fall behind the CLI.
 *
 *   same       as docker's
 *   differs    docker has it; Hull's differs, and the note says how and why
 *   hull       Hull only
 * `dockerOnly` lists docker's flags Hull does not take, with why.
 */
export interface VerbParity {
  /** docker's verb, or null for a Hull-only verb. */
  docker: string | null;
  note?: string;
  same?: string[];
  differs?: Record<string, string>;
  hull?: Record<string, string>;
  dockerOnly?: Record<string, string>;
}

const FORMAT_LIST = "json is Hull's own JSON (an array), not docker's one object per line; templates see docker's fields";
const FORMAT_INSPECT = "templates see docker's document plus Hull's record (camelCase fields); json prints Hull's record";

const CREATE: VerbParity = {
  docker: 'docker create',
  same: ['--name', '--env', '--workdir', '--user', '--tty', '--interactive', '--entrypoint', '--rm', '--memory', '--pids-limit', '--restart', '--runtime', '--hostname', '--label', '--network', '--network-alias', '--ip', '--publish', '--publish-all', '--pull', '--cap-add', '--cap-drop', '--device', '--privileged'],
  differs: {
    '--init': "Debian's tini (docker's docker-init is tini too), bound read-only at /run/hull-init; refused with --isolation vm, where the program is not PID 1",
    '--storage-opt': 'only size=, on xfs with project quotas or btrfs under the root (hull info says)',
    '--cpus': "refused above the host's CPUs, as docker; a fraction of a CPU is a CFS quota",
    '--isolation': "docker's values are Windows' (process, hyperv); Hull's vm runs the program in a small VM of its own",
    '--security-opt': 'only no-new-privileges',
    '--log-opt': "max-size and max-file, as the local driver's (default 20m and 5, the daemon's --log-opt); files kept uncompressed",
    '--volume': 'as docker\'s (a missing host directory is made; a relative ./path is resolved by the CLI); z/Z are accepted and do nothing (no SELinux here)',
    '--mount': "docker's keys for volume, bind and tmpfs; volume-driver is local or block (a disk); bind-nonrecursive and consistency are accepted and ignored",
    '--tmpfs': 'size=, mode=, ro; always nosuid, nodev, noexec',
    '--volumes-from': 'volumes and binds of the other container, as docker',
  },
  hull: { '--userns': "a user namespace for this container alone (docker's --userns=host undoes a daemon-wide remap)" },
  dockerOnly: {
    '--env-file': 'not yet',
    '--gpus, --device-cgroup-rule': 'not yet',
    '--read-only, --shm-size, --ulimit, --stop-signal, --stop-timeout': 'not yet',
    '--dns, --add-host, --link, --expose, --mac-address': "Hull's networks name their members; no per-container resolver settings yet",
    '--cpu-shares, --cpuset-cpus, --memory-swap, --memory-reservation, --blkio-weight': 'only --memory, --cpus and --pids-limit',
    '--health-cmd and the other --health-*': 'no health checks yet',
    '--log-driver': 'one log driver: rotated k8s-file files (as podman writes them)',
    '--platform': "an image's platform is chosen at pull",
    '--cidfile, --group-add, --attach': 'not yet',
  },
};

export const PARITY: Record<string, VerbParity> = {
  daemon: { docker: 'dockerd', same: ['--host'], differs: { '--root': "as dockerd's --data-root", '--insecure-registry': 'as dockerd; loopback registries always are', '--storage-opt': 'size= only: the default writable-layer size', '--log-opt': 'max-size and max-file only: the default of containers and VMs created without one' }, hull: { '--docker-socket': "serves the Docker Engine API beside Hull's own (dockerd's own socket is -H)", '--store': 'keeps the state in SQLite under the root or in an etcd (one daemon per prefix for now)', '--dashboard': 'the web dashboard (loopback by default, signed in with the link `hull dashboard` prints)' } },
  run: { ...CREATE, docker: 'docker run', same: [...CREATE.same!, '--detach', '--detach-keys'], note: 'exit codes 125, 126, 127 as docker' },
  create: CREATE,
  start: { docker: 'docker start', same: ['--attach', '--interactive', '--detach-keys'], dockerOnly: { '--checkpoint, --checkpoint-dir': 'not yet' } },
  stop: { docker: 'docker stop', same: ['--time'], dockerOnly: { '--signal': 'SIGTERM, then SIGKILL' } },
  restart: { docker: 'docker restart', same: ['--time'], dockerOnly: { '--signal': 'SIGTERM, then SIGKILL' } },
  kill: { docker: 'docker kill', same: ['--signal'] },
  pause: { docker: 'docker pause' },
  unpause: { docker: 'docker unpause' },
  rm: { docker: 'docker rm', same: ['--force', '--volumes'], dockerOnly: { '--link': 'no links' } },
  rename: { docker: 'docker rename', note: 'VMs too; their networks answer to the new name at once' },
  wait: { docker: 'docker wait', dockerOnly: { '--condition': 'the API takes it (next-exit, removed); the CLI waits for not-running' } },
  ps: {
    docker: 'docker ps',
    note: 'VMs are listed too, with a TYPE column',
    same: ['--all', '--quiet', '--no-trunc', '--last', '--latest'],
    differs: {
      '--filter': "name matches a substring anchored by ^ and $, not a regular expression (no pattern can make the daemon backtrack); every label= given must match, as docker's; no volume, publish, expose, health, is-task; isolation and type take container or vm",
      '--format': FORMAT_LIST,
    },
    dockerOnly: { '--size': "Hull does not measure a container's writable layer (.Size is N/A)" },
  },
  inspect: {
    docker: 'docker inspect',
    note: "a template's .Name has docker's leading slash; .State also has RestartCount",
    differs: { '--format': FORMAT_INSPECT, '--type': 'container (VMs too), image or network' },
    dockerOnly: { '--size': "Hull does not measure a container's writable layer" },
  },
  logs: {
    docker: 'docker logs',
    note: "a VM's log is its serial console (no timestamps: --since and --until are refused there)",
    same: ['--follow', '--since', '--until', '--timestamps'],
    differs: { '--tail': 'counts lines: a line conmon split into partial records is one (docker counts its log entries)' },
    dockerOnly: { '--details': 'not yet' },
  },
  exec: { docker: 'docker exec', same: ['--interactive', '--tty', '--env', '--workdir', '--user', '--detach-keys'], dockerOnly: { '--detach, --privileged, --env-file': 'not yet' } },
  attach: { docker: 'docker attach', same: ['--no-stdin', '--detach-keys'], dockerOnly: { '--sig-proxy': 'signals are passed on (as docker by default)' } },
  cp: { docker: 'docker cp', same: ['--follow-link'], note: 'a VM-isolated container only while it runs', dockerOnly: { '--archive, --quiet': 'not yet' } },
  stats: {
    docker: 'docker stats',
    note: "network and block I/O are not counted (--); for a VM or a VM-isolated container MEM USAGE is QEMU's resident memory, against the guest's RAM, and says so",
    same: ['--no-stream'],
    differs: { '--format': FORMAT_LIST },
    dockerOnly: { '--all, --no-trunc': 'not yet' },
  },
  top: { docker: 'docker top', note: "ps options as docker's (the host's ps, the container's rows); not for VMs, whose processes are in the guest", hull: { '--format': 'table or json' } },
  images: { docker: 'docker images', same: ['--quiet', '--no-trunc'], differs: { '--format': FORMAT_LIST }, dockerOnly: { '--all, --digests, --filter, --tree': 'not yet' } },
  image: { docker: 'docker image' },
  'image ls': { docker: 'docker image ls', same: ['--quiet', '--no-trunc'], differs: { '--format': FORMAT_LIST }, dockerOnly: { '--all, --digests, --filter, --tree': 'not yet' } },
  'image import': { docker: 'docker image import', note: "docker's imports a rootfs tarball; Hull's an OCI layout or an OCI/docker-save archive on the daemon's host" },
  'image rm': { docker: 'docker image rm', same: ['--force'], dockerOnly: { '--no-prune': 'not yet' } },
  'image inspect': { docker: 'docker image inspect', differs: { '--format': FORMAT_INSPECT } },
  'image pull': { docker: 'docker image pull', same: ['--platform', '--quiet'], dockerOnly: { '--all-tags, --disable-content-trust': 'not yet' } },
  'image push': { docker: 'docker image push', same: ['--quiet'], dockerOnly: { '--all-tags, --platform': 'not yet' } },
  'image tag': { docker: 'docker image tag' },
  'image save': { docker: 'docker image save', same: ['--output'], hull: { '--format': 'docker (default) or oci' } },
  'image load': { docker: 'docker image load', same: ['--input', '--quiet'] },
  'image prune': { docker: 'docker image prune', same: ['--all', '--force'], note: 'the built-in busybox is kept (it needs no registry); rmi removes it and it comes back at its next use', dockerOnly: { '--filter': 'not yet' } },
  'image build': { docker: 'docker image build', same: ['--tag', '--file', '--build-arg', '--no-cache', '--target', '--quiet'], dockerOnly: { '--platform, --secret, --ssh, --cache-from, --output, --progress': 'not yet' } },
  rmi: { docker: 'docker rmi', same: ['--force'], dockerOnly: { '--no-prune': 'not yet' } },
  pull: { docker: 'docker pull', same: ['--platform', '--quiet'], dockerOnly: { '--all-tags, --disable-content-trust': 'not yet' } },
  push: { docker: 'docker push', same: ['--quiet'], dockerOnly: { '--all-tags, --platform': 'not yet' } },
  tag: { docker: 'docker tag' },
  save: { docker: 'docker save', same: ['--output'], hull: { '--format': 'docker (default) or oci' } },
  load: { docker: 'docker load', same: ['--input', '--quiet'] },
  login: { docker: 'docker login', same: ['--username', '--password', '--password-stdin'], note: 'the daemon keeps the login (root only), not the client' },
  logout: { docker: 'docker logout' },
  build: { docker: 'docker build', same: ['--tag', '--file', '--build-arg', '--no-cache', '--target', '--quiet'], dockerOnly: { '--platform, --secret, --ssh, --cache-from, --output, --progress': 'not yet' } },
  builder: { docker: 'docker builder' },
  'builder prune': { docker: 'docker builder prune', same: ['--force'], note: 'the space counts the unpacked layers removed too', dockerOnly: { '--all, --filter, --keep-storage': 'one cache: prune removes all of it' } },
  network: { docker: 'docker network' },
  'network create': { docker: 'docker network create', same: ['--subnet', '--gateway', '--ip-range', '--internal', '--label'], dockerOnly: { '--driver, --opt, --ipv6, --attachable, --aux-address': 'bridge networks only, IPv4' } },
  'network ls': { docker: 'docker network ls', same: ['--quiet', '--no-trunc'], differs: { '--format': `${FORMAT_LIST}; Hull adds .Subnet, .Gateway, .Containers` }, dockerOnly: { '--filter': 'not yet' } },
  'network inspect': { docker: 'docker network inspect', differs: { '--format': FORMAT_INSPECT } },
  'network rm': { docker: 'docker network rm' },
  'network prune': { docker: 'docker network prune', same: ['--force'] },
  'network connect': { docker: 'docker network connect', same: ['--ip'], differs: { '--alias': 'repeatable, as docker' }, dockerOnly: { '--link, --ip6, --link-local-ip, --driver-opt': 'not yet' } },
  'network disconnect': { docker: 'docker network disconnect', dockerOnly: { '--force': 'not yet' } },
  volume: { docker: 'docker volume' },
  'volume create': {
    docker: 'docker volume create',
    same: ['--opt', '--label'],
    differs: { '--driver': 'local (docker\'s local: a directory, tmpfs, or a bind of a host directory) or block (a disk for VMs and containers)' },
    hull: { '--type': 'the same as --driver', '--size': "a block volume's size (default 1g)" },
    dockerOnly: { '--availability, --group, --limit-bytes, --required-bytes, --scope, --secret, --sharing, --topology-*': 'cluster volumes: no cluster yet' },
  },
  'volume ls': { docker: 'docker volume ls', same: ['--quiet'], differs: { '--format': FORMAT_LIST }, dockerOnly: { '--filter, --cluster': 'not yet' } },
  'volume inspect': { docker: 'docker volume inspect', differs: { '--format': FORMAT_INSPECT } },
  'volume rm': { docker: 'docker volume rm', same: ['--force'], note: 'a volume in use is refused, naming its users (also with --force, as docker)' },
  'volume prune': { docker: 'docker volume prune', same: ['--all', '--force'], note: 'anonymous volumes only unless --all, as docker 23', dockerOnly: { '--filter': 'not yet' } },
  'volume export': { docker: null, note: 'a tar stream: a local volume\'s files, a block volume\'s disk' },
  'volume import': { docker: null },
  'volume snapshot': { docker: null },
  'volume snapshot create': { docker: null },
  'volume snapshot ls': { docker: null },
  'volume snapshot restore': { docker: null },
  'volume snapshot rm': { docker: null },
  vm: { docker: null, note: 'virtual machines under QEMU' },
  'vm create': { docker: null },
  'vm start': { docker: null },
  'vm stop': { docker: null },
  'vm restart': { docker: null },
  'vm kill': { docker: null },
  'vm pause': { docker: null },
  'vm resume': { docker: null },
  'vm rm': { docker: null },
  'vm ls': { docker: null, note: "templates see .ID .Name .Image .State .Status .CreatedAt .RunningFor, as ps's" },
  'vm inspect': { docker: null, note: "templates see docker's container document plus Hull's record, as inspect" },
  'vm console': { docker: null },
  'vm exec': { docker: null },
  'vm disk': { docker: null },
  'vm disk attach': { docker: null },
  'vm disk detach': { docker: null },
  'vm disk ls': { docker: null },
  'vm snapshot': { docker: null },
  'vm snapshot create': { docker: null },
  'vm snapshot ls': { docker: null },
  'vm snapshot restore': { docker: null },
  'vm snapshot rm': { docker: null },
  'vm image': { docker: null },
  'vm image import': { docker: null },
  'vm image ls': { docker: null },
  'vm image rm': { docker: null },
  dashboard: { docker: null, note: "the web dashboard's sign-in link", hull: { '--format': 'json or a Go template', '--rotate': 'a new token; browsers signed in with the old one are out' } },
  info: { docker: 'docker info', differs: { '--format': "templates see docker's info fields (NCPU, CgroupVersion, Containers, …) plus Hull's; json prints Hull's" } },
  version: { docker: 'docker version', differs: { '--format': "templates see .Client and .Server as docker's plus Hull's fields; json prints Hull's" } },
  events: {
    docker: 'docker events',
    note: 'VMs are their own type (vm); the daemon keeps its last 1024 events for --since (docker 256)',
    same: ['--since', '--until'],
    differs: { '--filter': 'type, event, container, image, network, label, scope, service (a service and its replicas); Hull adds vm; no daemon or plugin events, no volume= key yet (type=volume works)', '--format': "json is docker's message per line; templates see docker's Go fields" },
  },
  apply: {
    docker: 'docker stack deploy',
    note: 'the Compose file read as docker stack deploy reads it (deploy: section, swarm meanings), strictly: file:line:field errors; x-hull for autoscaling, VM services, isolation auto',
    same: ['--prune'],
    differs: { '--file': 'one file (-f -: standard input); docker stack deploy takes -c, several merged', '--project-name': "the app's name; docker stack deploy takes it as its argument" },
    hull: { '--format': 'json: what changed' },
  },
  diff: { docker: null, note: 'as kubectl diff: what apply would change, exit 1 when something would', hull: { '--file': 'the Compose file', '--project-name': "the app's name", '--prune': 'show removals apply --prune would make', '--format': 'json' } },
  delete: { docker: 'docker stack rm', differs: { '--file': 'the app is named by its file (or -p)' }, hull: { '--project-name': "the app's name", '--format': 'json' } },
  service: { docker: 'docker service', note: "services of containers and VMs; swarm's verbs where they exist" },
  'service ls': { docker: 'docker service ls', same: ['--quiet'], differs: { '--format': `${FORMAT_LIST}; Hull adds .App, .Kind, .Revision, .Rollout, .Address` }, dockerOnly: { '--filter': 'not yet' } },
  'service inspect': { docker: 'docker service inspect', differs: { '--format': "templates see swarm's .Spec, .Endpoint, .UpdateStatus plus Hull's record; json prints Hull's" }, dockerOnly: { '--pretty': 'not yet' } },
  'service ps': { docker: 'docker service ps', same: ['--quiet'], differs: { '--format': `${FORMAT_LIST}; rows are replicas (slot, revision, health, next restart)` }, dockerOnly: { '--filter, --no-trunc, --no-resolve': 'not yet' } },
  'service scale': { docker: 'docker service scale', dockerOnly: { '--detach': 'always detached' } },
  'service rm': { docker: 'docker service rm' },
  node: { docker: 'docker node', note: "swarm's node verbs; one node on a single host (a cluster on etcd comes next)" },
  'node ls': { docker: 'docker node ls', same: ['--quiet'], differs: { '--format': `${FORMAT_LIST}; Hull adds .CPUs, .Memory, .Labels` }, dockerOnly: { '--filter': 'not yet' } },
  'node inspect': { docker: 'docker node inspect', differs: { '--format': "templates and json see Hull's record (.availability, .labels, .resources)" }, dockerOnly: { '--pretty': 'not yet' } },
  'node update': { docker: 'docker node update', same: ['--label-add', '--label-rm', '--availability'], dockerOnly: { '--role': 'every node is a manager until the cluster' } },
  rollout: { docker: null, note: "as kubectl rollout: a service's rolling updates" },
  'rollout status': { docker: null, hull: { '--timeout': 'give up after this long', '--watch': 'false: print the state once' } },
  'rollout history': { docker: null, hull: { '--format': 'json' } },
  'rollout undo': { docker: 'docker service rollback', note: 'docker rolls back to the previous spec only', hull: { '--to-revision': 'any kept revision' } },
};

export type FlagStatus = { status: 'same' | 'differs' | 'hull'; note?: string };

/** Where a verb's flag stands beside docker's; throws for a flag this file does not place. */
export function flagParity(verb: string, long: string): FlagStatus {
  const p = PARITY[verb];
  if (!p) throw new Error(`docker-parity.ts: no entry for the verb "${verb}"`);
  if (p.docker === null) return { status: 'hull' };
  if (p.same?.includes(long)) return { status: 'same' };
  if (p.differs?.[long] !== undefined) return { status: 'differs', note: p.differs[long] };
  if (p.hull?.[long] !== undefined) return { status: 'hull', note: p.hull[long] };
  throw new Error(`docker-parity.ts: the flag ${long} of "${verb}" is not placed beside docker's`);
}
