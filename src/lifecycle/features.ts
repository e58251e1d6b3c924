/** features.md: what this runtime understands, for clients that adapt to the runtime. */
import { CAPABILITIES, NAMESPACE_FLAG } from '../plan/linux-constants';
import { MOUNT_OPTION_NAMES } from '../plan/mount-options';
import { OCI_VERSION } from '../spec/version';
import { idmapMountsSupported } from '../launch/host-probe';

/** The features document (runtime-spec features.md), as far as tsruntime fills it in. */
export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
}

export function runtimeFeatures(): Features {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...MOUNT_OPTION_NAMES],
    linux: {
      namespaces: Object.keys(NAMESPACE_FLAG).sort(), // every type the planner can create or join
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: idmapMountsSupported() } },
    },
    annotations: { 'org.opencontainers.runtime-spec.features.tsruntime.version': '0.1.0' },
  };
}
