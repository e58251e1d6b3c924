/** Containerd end to end, with tsruntime and with runc: see scenarios.ts and ../helpers/engines.ts. */
import t from 'tap';
import { Containerd } from '../helpers/engines';
import { engineSuite } from './scenarios';

engineSuite(t, 'containerd', Containerd.missing, (t) => Containerd.create(t));
