import { remoteContract } from './remote-contract.js';
import { versityFixture } from '../helpers/remote-fixtures.js';

remoteContract('s3 (versitygw on 127.0.0.1)', versityFixture);
