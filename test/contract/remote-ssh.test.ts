import { remoteContract } from './remote-contract.js';
import { sshFixture } from '../helpers/remote-fixtures.js';

remoteContract('ssh (OpenSSH sshd on 127.0.0.1)', sshFixture);
