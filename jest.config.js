/** Jest runs the TypeScript sources directly (ts-jest, no type-check here: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { isolatedModules: true, tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 300000,
  // Tensor-heavy suites compete for 2 cores; two workers keep wall time sane.
  maxWorkers: 2,
};
