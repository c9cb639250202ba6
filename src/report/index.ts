/** Public API of src/report (re-exports only). */
export * from './markdown';
export * from './html';
export * from './report';
export * from './compare';
export * from './frontier';
