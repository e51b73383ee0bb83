// End-to-end tests start four processes and wait on real work; Jest's 5 s default is for unit tests.
jest.setTimeout(240_000);
