import { freshTestEnvironment } from '@hms/testing';
import { pendingSchemaChanges } from './schema-diff';
import { SERVICE_SCHEMAS } from './service-schemas';

describe('Migrations and entities', () => {
  it.each(Object.keys(SERVICE_SCHEMAS) as Array<keyof typeof SERVICE_SCHEMAS>)('leave nothing for TypeORM to change in schema %s', async (service) => {
    const env = await freshTestEnvironment(`drift_${service}`);
    try {
      expect(await pendingSchemaChanges({ url: env.databaseUrl, schema: service, ...SERVICE_SCHEMAS[service] })).toEqual([]);
    } finally {
      await env.dispose();
    }
  });
});
