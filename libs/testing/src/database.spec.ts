import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from './database.js';

describe('createTestDatabase', () => {
  it('gives each caller its own empty database and drops it', async () => {
    const a = await createTestDatabase('helper-a');
    const b = await createTestDatabase('helper-b');
    try {
      if (a.kind === 'postgres' && b.kind === 'postgres') {
        expect(a.url).not.toBe(b.url);
        const client = new pg.Client({ connectionString: a.url });
        await client.connect();
        const tables = await client.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM information_schema.tables WHERE table_schema = 'public'",
        );
        await client.end();
        expect(tables.rows[0]?.n).toBe('0');
      } else {
        expect(a.kind).toBe('pglite');
        expect(a.describe).toContain('PGlite');
      }
    } finally {
      await a.drop();
      await b.drop();
    }
    if (a.kind === 'postgres') {
      const client = new pg.Client({ connectionString: a.url });
      await expect(client.connect()).rejects.toThrow(/does not exist/);
    }
  });
});
