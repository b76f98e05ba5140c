import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { costUnitsTable, measureCostUnits, tableInDoc } from '../../bench/cost-units';
import { LOCAL_KEYRING } from '../../local/local-aws';
import { env } from './support';

const DOC = path.join(__dirname, '..', '..', 'docs', 'ARCHITECTURE.md');

describe('the cost table in docs/ARCHITECTURE.md', () => {
  it('is what each path consumes on DynamoDB Local, read and write units per table and index', async () => {
    const measured = costUnitsTable(
      await measureCostUnits({
        dynamoDbEndpoint: env.dynamoDbEndpoint,
        tableName: env.tableName,
        cdkOut: env.cdkOut,
        keyring: LOCAL_KEYRING,
      }),
    );
    const documented = tableInDoc(readFileSync(DOC, 'utf8'));
    if (documented !== measured) {
      throw new Error(
        "docs/ARCHITECTURE.md's cost table is not what the paths consume: run `npm run bench:cost-table` to update it.\n" +
          `Measured:\n${measured}\n\nDocumented:\n${documented}`,
      );
    }
  });
});
