/** Public API of src/rewards (re-exports only): reward sources, one shape (types.ts), and the oracle. */
export * from './types';
export * from './oracle';
export * from './judge';
