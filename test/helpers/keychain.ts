/** The OS keychain port for tests that must not touch one: reads find nothing, writes fail loudly. */
import type { KeychainPort } from '../../src/core/keychain/port.js';

export const noKeychain: KeychainPort = {
  description: 'no keychain (tests)',
  get: async () => null,
  set: async () => {
    throw new Error('no keychain in this test');
  },
  delete: async () => false,
};
