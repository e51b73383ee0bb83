import { parseServerSentEvent, type ServerSentEvent } from '../../../libs/client/src/http-transport';
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
      if (/^text\/event-stream/i.test(contentType ?? '') && response.body) {
        const problem = contract.check({ method, path: url.pathname, status: response.status, contentType, body: undefined });
        if (problem) drift.push(problem);
        return checkedEventStream(response, (event) => {
          const eventProblem = contract.checkEvent({ method, path: url.pathname, status: response.status, ...event });
          if (eventProblem) drift.push(eventProblem);
        });
      }
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

/**
 * The response with its body read twice: by the caller, and by `onEvent` for each event, as the
 * caller reads. Cancelling the caller's side cancels both, so an endless stream ends with it.
 */
function checkedEventStream(response: Response, onEvent: (event: ServerSentEvent) => void): Response {
  const [forCaller, forCheck] = response.body!.tee();
  const checkReader = forCheck.getReader();
  const callerReader = forCaller.getReader();
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for (;;) {
        const { done, value } = await checkReader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = parseServerSentEvent(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
          if (event) onEvent(event);
        }
      }
    } catch {
      // The caller aborted the stream: nothing more to check.
    }
  })();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await callerReader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await Promise.all([callerReader.cancel(reason), checkReader.cancel(reason)]);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** The committed document, and the checks of this test file's answers (installed by jest-setup.ts). */
export const openApiContract = OpenApiContract.fromDocs();
export const answerChecks = checkAnswersAgainstOpenApi(openApiContract);
