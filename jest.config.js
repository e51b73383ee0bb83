// Nest 12 and a few of its dependencies ship ESM only; Jest on Node 20 cannot require(esm), so
// swc compiles those packages to CommonJS too (cached after the first run). path-to-regexp 9 is
// Fastify's middie's own copy, nested in its folder: a package is judged by its innermost
// node_modules folder.
const esmPackages = ['@nestjs', 'jose', 'file-type', 'strtok3', 'token-types', 'uint8array-extras', '@tokenizer', 'load-esm', 'path-to-regexp'];
const swcTransform = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];
const base = {
  rootDir: __dirname,
  transform: { '^.+\\.(t|j|mj)s$': swcTransform },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)(?!.*/node_modules/)`],
  moduleNameMapper: {
    '^@hms/(contracts|platform|client|testing)$': '<rootDir>/libs/$1/src/index.ts',
    '^@hms-(act|oms|ops)/client$': '<rootDir>/libs/$1-client/src/index.ts',
    '^@hms-oms/queue$': '<rootDir>/libs/oms-queue/src/index.ts',
  },
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};

// The integration and e2e projects run on a nats-server with the deployment's users (docs/testing.md).
const natsHooks = { globalSetup: '<rootDir>/libs/testing/src/jest/nats-global-setup.ts', globalTeardown: '<rootDir>/libs/testing/src/jest/nats-global-teardown.ts' };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts'] },
    { ...base, ...natsHooks, displayName: 'integration', setupFilesAfterEnv: ['<rootDir>/libs/testing/src/jest/integration-setup.ts'], testMatch: ['<rootDir>/{apps,libs,tools}/**/*.int-spec.ts'] },
    { ...base, ...natsHooks, displayName: 'e2e', setupFilesAfterEnv: ['<rootDir>/test/e2e/support/jest-setup.ts'], testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
  ],
};
