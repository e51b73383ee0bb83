import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOfflineOpenApiDocument } from '../../apps/api-gateway/src/openapi/offline-document';
import { openApiJson } from '../../apps/api-gateway/src/openapi/openapi';

/** `npm run openapi`: writes the gateway's OpenAPI document to docs/openapi.json. */
async function main(): Promise<void> {
  const path = join(__dirname, '..', '..', '..', 'docs', 'openapi.json');
  writeFileSync(path, openApiJson(await buildOfflineOpenApiDocument()));
  console.log(`wrote ${path}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
