import { remoteContract } from './remote-contract.js';
import { s3Fixture } from '../helpers/remote-fixtures.js';

remoteContract('s3 (s3rver on 127.0.0.1)', s3Fixture);
