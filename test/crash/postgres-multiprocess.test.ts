import { after } from 'node:test';
import { openStore } from '../../src/stores/open.ts';
import { dropSchema, PG_URL, uniqueSchema } from '../postgres/pg-env.ts';
import { multiprocessSuite } from './multiprocess-suite.ts';

const schemas: string[] = [];
after(async () => {
  for (const s of schemas) await dropSchema(s);
});

multiprocessSuite('PostgreSQL', (name) => {
  const schema = uniqueSchema(`mp_${name}`);
  schemas.push(schema);
  return { spec: PG_URL, env: { CONVEYOR_PG_SCHEMA: schema }, open: () => openStore(PG_URL, { schema }) };
});
