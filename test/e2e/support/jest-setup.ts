import { answerChecks } from './openapi-check';

// End-to-end tests start four processes and wait on real work; Jest's 5 s default is for unit tests.
jest.setTimeout(240_000);

// Every answer the suite gets is checked against docs/openapi.json: drift fails the test that saw it.
const failOnDrift = () => {
  const drift = answerChecks.takeDrift();
  if (drift.length > 0) throw new Error(`Answers that differ from the OpenAPI document (docs/openapi.json):\n- ${[...new Set(drift)].join('\n- ')}`);
};
afterEach(failOnDrift);
afterAll(failOnDrift);
