/** Three projects: unit (mocked AWS SDK), infra (synthesized template), integration (DynamoDB Local + local workflow; browser tests too). */
const transform = {
  '^.+\\.ts$': 'ts-jest',
  // jose ships ES modules only; jest's CommonJS runtime needs them compiled.
  '/node_modules/jose/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true }, diagnostics: false }],
};
const common = {
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // client/ is an ES module package: its relative imports name the emitted .js file, which here is the .ts source.
  moduleNameMapper: { '^(\\./(?:api-types|internal|tracking-client|video-analyses|task-query|tanstack))\\.js$': '$1' },
  setupFilesAfterEnv: ['aws-sdk-client-mock-jest'],
};

module.exports = {
  // Jest's default is one worker fewer than the cores: one on a 2-core CI machine. Most suites wait on DynamoDB Local,
  // the local workflow or a child process rather than compute, so two workers there cut the run by about a quarter
  // (measured in a fresh clone: jest 345 s with 2 workers against 438-485 s with 1).
  maxWorkers: Math.max(2, require('node:os').availableParallelism() - 1),
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      // test/browser: the demo page in headless Chromium, against the same local system.
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/browser/**/*.test.ts'],
      setupFilesAfterEnv: [...common.setupFilesAfterEnv, '<rootDir>/test/integration/timeout.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/global-teardown.ts',
    },
  ],
};
