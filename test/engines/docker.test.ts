/** Docker end to end, with tsruntime and with runc: see scenarios.ts and ../helpers/engines.ts. */
import t from 'tap';
import { Docker } from '../helpers/engines';
import { engineSuite } from './scenarios';

engineSuite(t, 'docker', Docker.missing, (t) => Docker.create(t));
