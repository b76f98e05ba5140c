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
