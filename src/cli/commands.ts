import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { Command, CommandRunner, Option } from 'nest-commander';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { DataSource } from 'typeorm';
import { RequestContext } from '../common/decorators/auth.decorators';
import { Role, ROLES } from '../common/roles';
import { USERNAME_RULE } from '../common/usernames';
import { TypedConfigService } from '../config';
import { MAX_ACCESS_TOKEN_TTL_SECONDS, parseDuration } from '../config/auth.config';
import { AuthService } from '../modules/auth/auth.service';
import { StockService } from '../modules/stock/stock.service';
import { CreateUserDto } from '../modules/users/dto/user.dto';
import { UsersRepository } from '../modules/users/users.repository';
import { UsersService } from '../modules/users/users.service';

/** A refusal the operator can act on: printed as one line, exit code 1. */
export class CliError extends Error {}

/** Changes made from the CLI are audited as the operating-system user who ran it. */
export function cliContext(): RequestContext {
  return {
    user: { id: 0, username: `cli:${userInfo().username}`, role: 'admin' },
    requestId: `cli-${Date.now()}`,
    ip: 'local',
  };
}

async function readStdinLine(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) data += chunk;
  return data.split(/\r?\n/)[0];
}

interface UserCreateOptions {
  username: string;
  role: Role;
  passwordStdin?: boolean;
}

@Command({
  name: 'user:create',
  description: 'Create a user; prints a generated password unless --password-stdin is given',
})
export class UserCreateCommand extends CommandRunner {
  constructor(private readonly users: UsersService) {
    super();
  }

  async run(_: string[], options: UserCreateOptions): Promise<void> {
    const generated = !options.passwordStdin;
    const password = generated ? randomBytes(18).toString('base64url') : await readStdinLine();
    const dto = plainToInstance(CreateUserDto, { username: options.username, role: options.role, password });
    const errors = validateSync(dto);
    if (errors.length) {
      throw new CliError(errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; '));
    }
    const user = await this.users.create(cliContext(), dto);
    process.stdout.write(
      `Created ${user.role} "${user.username}" (id ${user.id})${generated ? ` with password: ${password}` : ''}\n`,
    );
  }

  @Option({ flags: '-u, --username <username>', description: `login name, ${USERNAME_RULE}`, required: true })
  parseUsername(value: string): string {
    return value;
  }

  @Option({ flags: '-r, --role <role>', description: `one of ${ROLES.join(', ')}`, required: true })
  parseRole(value: string): string {
    return value;
  }

  @Option({
    flags: '--password-stdin',
    description: 'read the password (12..128 characters) from the first line of stdin',
  })
  parsePasswordStdin(): boolean {
    return true;
  }
}

interface TokenIssueOptions {
  username: string;
  ttl?: string;
  allowLongLived?: boolean;
}

/** The longest token the CLI mints; more than the login's 24 h only for monitor users (scrapers), or on insistence. */
const MAX_ISSUED_TTL_SECONDS = 400 * 86400;
const MONITOR_DEFAULT_TTL = '365d';

@Command({ name: 'token:issue', description: "Print an access token for a user, e.g. Prometheus' monitor user" })
export class TokenIssueCommand extends CommandRunner {
  constructor(
    private readonly users: UsersRepository,
    private readonly auth: AuthService,
    private readonly config: TypedConfigService,
  ) {
    super();
  }

  async run(_: string[], options: TokenIssueOptions): Promise<void> {
    const user = await this.users.findByUsername(options.username);
    if (!user || user.username !== options.username) throw new CliError(`No user "${options.username}"`);
    if (user.disabled) throw new CliError(`User "${options.username}" is disabled`);
    const { jwtTtlSeconds } = this.config.getOrThrow('auth', { infer: true });
    const ttl = options.ttl ?? (user.role === 'monitor' ? MONITOR_DEFAULT_TTL : String(jwtTtlSeconds));
    let ttlSeconds: number;
    try {
      ttlSeconds = parseDuration(ttl);
    } catch {
      throw new CliError(`--ttl "${ttl}" is not a duration (e.g. 3600, 90d, 12h)`);
    }
    if (ttlSeconds < 1 || ttlSeconds > MAX_ISSUED_TTL_SECONDS)
      throw new CliError(`--ttl must be between 1 second and 400 days`);
    if (ttlSeconds > MAX_ACCESS_TOKEN_TTL_SECONDS && user.role !== 'monitor' && !options.allowLongLived) {
      throw new CliError(
        `--ttl ${ttl}: tokens that outlive 24 hours are for monitor users; a ${user.role} token that long needs --allow-long-lived`,
      );
    }
    process.stdout.write(`${await this.auth.issueToken(user, ttlSeconds)}\n`);
  }

  @Option({ flags: '-u, --username <username>', description: 'whose token', required: true })
  parseUsername(value: string): string {
    return value;
  }

  @Option({
    flags: '--ttl <duration>',
    description: `lifetime: seconds or a number with s, m, h, d (at most 400d; default ${MONITOR_DEFAULT_TTL} for monitor users, JWT_TTL for others)`,
  })
  parseTtl(value: string): string {
    return value;
  }

  @Option({
    flags: '--allow-long-lived',
    description: 'allow a token over 24 hours for a role other than monitor (a leaked one is a long-lived key)',
  })
  parseAllowLongLived(): boolean {
    return true;
  }
}

@Command({ name: 'migrate', description: 'Apply pending migrations (the service also does at start) and report' })
export class MigrateCommand extends CommandRunner {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: TypedConfigService,
  ) {
    super();
  }

  async run(): Promise<void> {
    // connecting applied them (DatabaseModule); this confirms nothing is left
    if (await this.dataSource.showMigrations()) throw new CliError('Migrations are still pending');
    const applied: unknown[] = await this.dataSource.query('SELECT name FROM migrations');
    const db = this.config.getOrThrow('database', { infer: true });
    process.stdout.write(`Schema current on ${db.type}: ${applied.length} migrations applied\n`);
  }
}

@Command({ name: 'reconcile', description: 'Check every stock level against its ledger; exit code 1 on a mismatch' })
export class ReconcileCommand extends CommandRunner {
  constructor(private readonly stock: StockService) {
    super();
  }

  async run(): Promise<void> {
    const report = await this.stock.reconcile();
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (report.mismatches.length) process.exitCode = 1;
  }
}
