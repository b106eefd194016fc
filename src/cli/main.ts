import { ConsoleLogger } from '@nestjs/common';
import { CommandFactory } from 'nest-commander';
import { uniqueViolation } from '../all-exceptions.filter';
import { configLoaders } from '../config';
import { ConfigError } from '../config/validate-config';
import { CliModule } from './cli.module';

/** Operator commands: `npm run cli -- --help`. Errors are one line on stderr and exit code 1. */
async function bootstrap(): Promise<void> {
  const fail = (error: unknown) => {
    const known = uniqueViolation(error);
    process.stderr.write(`error: ${known?.message ?? (error as Error).message ?? String(error)}\n`);
    process.exit(1);
  };
  try {
    configLoaders.forEach((load) => load());
  } catch (error) {
    if (error instanceof ConfigError) fail(error);
    throw error;
  }
  await CommandFactory.run(CliModule, {
    cliName: 'inventory',
    // colours only on a terminal: a command's output redirected to a log file holds no control characters
    logger: new ConsoleLogger({ logLevels: ['error', 'warn'], colors: process.stdout.isTTY === true }),
    serviceErrorHandler: fail,
    errorHandler: (error: Error & { exitCode?: number; code?: string }) => {
      // commander's own exits (--help, --version) are not failures
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') process.exit(0);
      process.exit(error.exitCode ?? 1);
    },
  });
}

void bootstrap();
