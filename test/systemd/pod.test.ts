// The Kubernetes pod replay (test/integration/pod.test.ts) where systemd is PID 1, so that its
// systemd cgroup driver variant runs too (pod slice, scopes in it; the cgroupfs one runs as well).
import '../integration/pod.test';
