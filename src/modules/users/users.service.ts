import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AuthUser, RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { Page, PageQuery, decodeCursor, pageSize, toPage } from '../../common/http/pagination';
import { TypedConfigService } from '../../config';
import { TransactionService } from '../../database/transaction.service';
import { auditEntry } from '../audit/audit-context';
import { AuditRepository } from '../audit/audit.repository';
import { CreateUserDto, toUserView, UpdateUserDto, UserView } from './dto/user.dto';
import { User } from './entities/user.entity';
import { PasswordService } from './password.service';
import { UsersRepository } from './users.repository';

/** How stale another instance's view of a user may be: the contract allows 1 s for revocation to spread. */
const TOKEN_USER_CACHE_MS = 500;

export interface TokenUser extends AuthUser {
  tokenVersion: number;
}

@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);
  /** The admin's password when this start generated it (no users, no ADMIN_PASSWORD), until the banner takes it. */
  private generatedAdminPassword: string | null = null;
  private readonly tokenUsers = new Map<number, { expires: number; user: Promise<TokenUser | null> }>();
  /** The first start's admin password and its hash, or null when there are users already. */
  private readonly firstAdmin: Promise<{ password: string; passwordHash: string } | null>;

  constructor(
    private readonly users: UsersRepository,
    private readonly passwords: PasswordService,
    private readonly audit: AuditRepository,
    private readonly tx: TransactionService,
    private readonly config: TypedConfigService,
  ) {
    // begun now (the DataSource is initialised and migrated before any repository is made) so that the
    // hash, ~0.3 s on argon2's threads, overlaps the rest of the start instead of idling it
    this.firstAdmin = this.prepareFirstAdmin();
    this.firstAdmin.catch(() => undefined); // awaited, and its failure thrown, in onApplicationBootstrap
  }

  private async prepareFirstAdmin(): Promise<{ password: string; passwordHash: string } | null> {
    if ((await this.users.count()) > 0) return null;
    const password =
      this.config.getOrThrow('auth', { infer: true }).adminPassword ?? randomBytes(18).toString('base64url');
    return { password, passwordHash: await this.passwords.hash(password) };
  }

  /** First start with no users: create the admin from config, or with a random password logged once. */
  async onApplicationBootstrap(): Promise<void> {
    const first = await this.firstAdmin;
    if (!first) return;
    const { password, passwordHash } = first;
    const auth = this.config.getOrThrow('auth', { infer: true });
    const now = new Date();
    try {
      await this.tx.run((manager) =>
        this.users.insert(manager, {
          username: auth.adminUsername,
          passwordHash,
          role: 'admin',
          disabled: false,
          tokenVersion: 0,
          createdAt: now,
          updatedAt: now,
        }),
      );
    } catch (error) {
      if ((await this.users.count()) > 0) return; // another instance bootstrapped at the same moment
      throw error;
    }
    if (auth.adminPassword) {
      this.logger.log(`Created admin user "${auth.adminUsername}" with the password from ADMIN_PASSWORD`);
    } else {
      this.generatedAdminPassword = password;
      this.logger.warn(
        `Created admin user "${auth.adminUsername}" with generated password: ${password} (shown once; change it with PATCH /api/users/:id)`,
      );
    }
  }

  /** The generated admin password, once (the start banner shows it); null after, or when none was generated. */
  takeGeneratedAdminPassword(): string | null {
    const password = this.generatedAdminPassword;
    this.generatedAdminPassword = null;
    return password;
  }

  async create(ctx: RequestContext, dto: CreateUserDto): Promise<UserView> {
    const passwordHash = await this.passwords.hash(dto.password);
    const now = new Date();
    return this.tx.run(async (manager) => {
      const user = await this.users.insert(manager, {
        username: dto.username,
        passwordHash,
        role: dto.role,
        disabled: false,
        tokenVersion: 0,
        createdAt: now,
        updatedAt: now,
      });
      const view = toUserView(user);
      await this.audit.append(manager, auditEntry(ctx, 'user.create', 'user', user.id, null, view));
      return view;
    });
  }

  async list(query: PageQuery): Promise<Page<UserView>> {
    const limit = pageSize(query);
    const rows = await this.users.listAfter(decodeCursor(query.cursor), limit + 1);
    return toPage(rows, limit, toUserView);
  }

  async get(id: number): Promise<UserView> {
    const user = await this.users.findById(id);
    if (!user) throw ApiError.notFound('User', { userId: id });
    return toUserView(user);
  }

  async update(ctx: RequestContext, id: number, dto: UpdateUserDto): Promise<UserView> {
    const passwordHash = dto.password !== undefined ? await this.passwords.hash(dto.password) : undefined;
    // lock the admin set before the user row, the same order for every update, so two demotions queue
    const mayRemoveAdmin = (dto.role !== undefined && dto.role !== 'admin') || dto.disabled === true;
    const view = await this.tx.run(async (manager) => {
      const enabledAdmins = mayRemoveAdmin ? await this.users.lockEnabledAdminIds(manager) : [];
      const user = await this.users.lockById(manager, id);
      if (!user) throw ApiError.notFound('User', { userId: id });
      const isEnabledAdmin = user.role === 'admin' && !user.disabled;
      if (mayRemoveAdmin && isEnabledAdmin && enabledAdmins.every((adminId) => adminId === id)) {
        throw new ApiError('LAST_ADMIN', 'The last enabled admin cannot be demoted or disabled');
      }
      const before = toUserView(user);
      if (dto.role === undefined && dto.disabled === undefined && passwordHash === undefined) return before;
      const changes: Partial<User> = { updatedAt: new Date() };
      if (dto.role !== undefined) changes.role = dto.role;
      if (dto.disabled !== undefined) changes.disabled = dto.disabled;
      if (passwordHash !== undefined) changes.passwordHash = passwordHash;
      const revokes =
        (dto.role !== undefined && dto.role !== user.role) ||
        (dto.disabled !== undefined && dto.disabled !== user.disabled) ||
        passwordHash !== undefined;
      if (revokes) changes.tokenVersion = user.tokenVersion + 1;
      await this.users.update(manager, id, changes);
      const after = toUserView({ ...user, ...changes });
      // the audit entry says a password changed, never what it is
      const audited = passwordHash !== undefined ? { ...after, passwordChanged: true } : after;
      await this.audit.append(manager, auditEntry(ctx, 'user.update', 'user', id, before, audited));
      return after;
    });
    this.tokenUsers.delete(id);
    return view;
  }

  /** The user a token names, if it may still act; cached briefly because every request asks. */
  findTokenUser(id: number): Promise<TokenUser | null> {
    const now = Date.now();
    const cached = this.tokenUsers.get(id);
    if (cached && cached.expires > now) return cached.user;
    const user = this.users
      .findById(id)
      .then((row) =>
        row && !row.disabled
          ? { id: row.id, username: row.username, role: row.role, tokenVersion: row.tokenVersion }
          : null,
      );
    this.tokenUsers.set(id, { expires: now + TOKEN_USER_CACHE_MS, user });
    user.catch(() => this.tokenUsers.delete(id));
    return user;
  }
}
