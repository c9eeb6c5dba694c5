import type { InstanceConfig } from '../../core/instance.js';
import type { HostInfo } from '../host.js';
import { resolveCapabilities } from './capabilities.js';
import { hostDevices, mappedDevices } from './devices.js';
import { profileToOci } from './seccomp-profile.js';
import type { SpecOptions } from './spec.js';

/**
 * The security half of a container's SpecOptions from what its record asked
 * for (docs/security.md): the capability set, the host devices it gets, the
 * seccomp filter (the default for those, the user's profile, or none) and
 * privileged. Devices are read from the host now, at each start.
 */
export async function securitySpec(c: InstanceConfig, host: HostInfo): Promise<Pick<SpecOptions, 'capabilities' | 'devices' | 'seccomp' | 'privileged'>> {
  const s = c.security ?? {};
  const capabilities = resolveCapabilities(s, host.capabilities);
  const devices = s.privileged ? await hostDevices() : (await Promise.all((s.devices ?? []).map(mappedDevices))).flat();
  const seccomp = s.seccomp === 'unconfined' ? 'unconfined' : s.seccomp ? profileToOci(s.seccomp, capabilities, host.kernel) : undefined;
  return { capabilities, devices, seccomp, privileged: s.privileged };
}
