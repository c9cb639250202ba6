/** Jest runs the TypeScript sources directly (ts-jest, no type-check here: `npm run typecheck` does that). */
// TensorFlow's C++ start-up lines (CPU features, oneDNN) when tfjs-node loads; set here because test code
// sees a copy of process.env that the native library cannot read. Warnings and errors still show.
process.env.TF_CPP_MIN_LOG_LEVEL = process.env.TF_CPP_MIN_LOG_LEVEL || '2';
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // hyparquet (Parquet reader, src/data) and hyparquet-writer (src/data/write.ts) ship ESM only; Node 20.19+
    // require()s them natively, jest needs their .js compiled to CommonJS.
    '/node_modules/hyparquet(-writer)?/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true, module: 'commonjs', target: 'ES2022' } }],
  },
  // Transform nothing else under node_modules (jest's default), except those two.
  transformIgnorePatterns: ['/node_modules/(?!hyparquet(-writer)?/)'],
  // Each test file starts on RLHF_BACKEND's backend (default: the best available); see test/setup/backend.ts.
  setupFilesAfterEnv: ['<rootDir>/test/setup/backend.ts'],
  testTimeout: 300000,
  // Tensor-heavy suites compete for 2 cores; two workers keep wall time sane.
  maxWorkers: 2,
};
