/** Podman end to end, with tsruntime and with runc: see scenarios.ts and ../helpers/engines.ts. */
import t from 'tap';
import { Podman } from '../helpers/engines';
import { engineSuite } from './scenarios';

engineSuite(t, 'podman', Podman.missing, (t) => Podman.create(t));
