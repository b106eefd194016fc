import { Command, CommandRunner, Option } from 'nest-commander';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ImportFileError } from '../modules/product-import/import-lines';
import { noCounts, ProductImportService } from '../modules/product-import/product-import.service';
import { CliError, cliContext } from './commands';
import { ImportProgress } from './import-progress';

/** The file's size in bytes, or a one-line refusal naming why it cannot be read. */
async function sizeOf(file: string): Promise<number> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new CliError(`Cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  if (!info.isFile()) throw new CliError(`Cannot read ${file}: not a file`);
  return info.size;
}

interface ImportProductsOptions {
  dryRun?: boolean;
}

@Command({
  name: 'import:products',
  arguments: '<file>',
  argsDescription: {
    file: 'CSV with a header row: sku, name, description, unit, reorderPoint, and warehouse + onHand for opening stock',
  },
  description:
    'Create or update products from a CSV file (upsert by SKU), setting opening stock by a COUNT adjustment; exit code 1 if any line failed',
})
export class ImportProductsCommand extends CommandRunner {
  constructor(private readonly importer: ProductImportService) {
    super();
  }

  async run([file]: string[], options: ImportProductsOptions): Promise<void> {
    const size = await sizeOf(file);
    const dryRun = options.dryRun === true;
    const fileName = basename(file);
    const report = new ImportProgress(process.stdout, size, dryRun);
    const counts = noCounts();
    try {
      await this.importer.import(cliContext(), createReadStream(file), { dryRun, fileName }, report, counts);
    } catch (error) {
      if (error instanceof ImportFileError) throw new CliError(`${fileName}: ${error.message}`);
      report.finish(counts, fileName, true);
      throw error;
    }
    report.finish(counts, fileName);
    if (counts.failed) process.exitCode = 1;
  }

  @Option({
    flags: '--dry-run',
    description: 'validate every line (warehouses and archived SKUs too) and report; write nothing',
  })
  parseDryRun(): boolean {
    return true;
  }
}
