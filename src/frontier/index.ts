/** Public API of src/frontier (re-exports only): the dynamic audit, best-of-n and RL/policy points on proxy vs gold vs KL. */
export * from './bon';
export * from './kl';
export * from './points';
export * from './sample';
export * from './frontier';
