/** Unit specs beside the code; e2e suites in test/, run once per database driver. NestJS 12 is ESM: Jest runs in ESM mode. */
const common = {
  testEnvironment: 'node',
  rootDir: '.',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.spec.json', useESM: true }] },
  setupFiles: ['reflect-metadata'],
  // see test/support/content-disposition.cjs: Jest cannot require() that ESM-only package on Node 20
  moduleNameMapper: { '^content-disposition$': '<rootDir>/test/support/content-disposition.cjs' },
};
const e2e = (driver) => ({
  ...common,
  displayName: `e2e-${driver}`,
  testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
  setupFiles: ['reflect-metadata', `<rootDir>/test/support/use-${driver}.cjs`],
});

module.exports = {
  testTimeout: 60000,
  // two suites at a time: most of a suite's time is spent waiting on the database, a child process or a hash
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
      testPathIgnorePatterns: ['\\.e2e-spec\\.ts$'],
    },
    e2e('sqlite'),
    { ...e2e('mysql'), globalSetup: '<rootDir>/test/support/global-setup.ts' },
  ],
};
