import type { Command } from '../command';
import { writeStdout } from '../../log';
import { CAPABILITIES, NAMESPACE_FLAG } from '../../plan/linux-constants';
import { MOUNT_OPTION_NAMES } from '../../plan/mount-options';
import { OCI_VERSION } from '../../spec/version';

/** features.md: what this runtime understands, for clients that adapt to the runtime. */
export const command: Command = {
  describe: 'print the features this runtime implements, as JSON (runtime-spec features.md)',
  args: '',
  flags: {},
  run() {
    const features = {
      ociVersionMin: '1.0.0',
      ociVersionMax: OCI_VERSION,
      hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
      mountOptions: MOUNT_OPTION_NAMES,
      linux: {
        namespaces: Object.keys(NAMESPACE_FLAG).sort(), // every type the planner can create or join
        capabilities: [...CAPABILITIES],
        cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
        apparmor: { enabled: false },
        selinux: { enabled: false },
        intelRdt: { enabled: false },
        mountExtensions: { idmap: { enabled: false } },
      },
      annotations: { 'org.opencontainers.runtime-spec.features.tsruntime.version': '0.1.0' },
    };
    writeStdout(JSON.stringify(features, null, 2) + '\n');
    return 0;
  },
};
