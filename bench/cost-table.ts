/**
 * `npm run bench:cost-table`: starts the local system, measures each request path's read and write units
 * (bench/cost-units.ts) and writes the table into docs/ARCHITECTURE.md between the cost-table markers. Prints it too.
 * test/integration/cost-table.test.ts fails when the doc's table is not what this measures.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LOCAL_KEYRING } from '../local/local-aws';
import { startLocalSystem } from '../local/system';
import { PROJECT_ROOT } from '../local/template';
import { costUnitsTable, measureCostUnits, withTable } from './cost-units';

export const COST_TABLE_DOC = path.join(PROJECT_ROOT, 'docs', 'ARCHITECTURE.md');

async function main(): Promise<void> {
  const system = await startLocalSystem({ port: 0, scheduleSeconds: 0, log: () => {} });
  try {
    const table = costUnitsTable(
      await measureCostUnits({
        dynamoDbEndpoint: system.dynamoDbEndpoint,
        tableName: system.tableName,
        cdkOut: system.cdkOut,
        keyring: LOCAL_KEYRING,
      }),
    );
    console.log(table);
    const doc = readFileSync(COST_TABLE_DOC, 'utf8');
    const updated = withTable(doc, table);
    if (updated === doc) console.log(`\n${path.relative(PROJECT_ROOT, COST_TABLE_DOC)}: already up to date`);
    else {
      writeFileSync(COST_TABLE_DOC, updated);
      console.log(`\n${path.relative(PROJECT_ROOT, COST_TABLE_DOC)}: table updated`);
    }
  } finally {
    await system.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
