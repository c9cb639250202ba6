/** Public API of src/compare (re-exports only). */
export * from './types';
export * from './stats';
export * from './analyses';
export * from './probe-stats';
export * from './summary';
export * from './fields';
export * from './metrics-log';
