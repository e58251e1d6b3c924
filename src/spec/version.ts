/** The runtime-spec version tsruntime implements: in state, hooks' state, `features`, `spec` and `--version`. */
export const OCI_VERSION = '1.2.0';
