import { after } from 'node:test';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { dropSchema, PG_URL, uniqueSchema } from '../postgres/pg-env.ts';
import { runContract } from './contract.ts';

const schema = uniqueSchema('contract');

runContract('postgres', (clock) => PostgresStore.connect(PG_URL, { schema, clock }));

after(async () => {
  await dropSchema(schema);
});
