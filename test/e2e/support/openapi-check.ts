import { OpenApiContract } from '../../../libs/testing/src/openapi-contract';

/**
 * Checks every answer an e2e test gets over `fetch` (the SDK's calls and the tests' own) against
 * the committed OpenAPI document: an undocumented status, media type or body shape is recorded
 * and fails the test that got it (see jest-setup.ts). Streams are checked by status and media
 * type only; their bodies are never read here.
 */
export function checkAnswersAgainstOpenApi(contract: OpenApiContract): { takeDrift(): string[] } {
  const drift: string[] = [];
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await original(input, init);
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
    if (local && (url.pathname.startsWith('/v1/') || contract.operation(method, url.pathname))) {
      const contentType = response.headers.get('content-type');
      const isJson = /^application\/json/i.test(contentType ?? '');
      let body: unknown;
      if (isJson) {
        const text = await response.clone().text();
        body = text === '' ? undefined : (JSON.parse(text) as unknown);
      }
      const problem = contract.check({ method, path: url.pathname, status: response.status, contentType, body });
      if (problem) drift.push(problem);
    }
    return response;
  };
  return { takeDrift: () => drift.splice(0) };
}

/** The committed document, and the checks of this test file's answers (installed by jest-setup.ts). */
export const openApiContract = OpenApiContract.fromDocs();
export const answerChecks = checkAnswersAgainstOpenApi(openApiContract);
