import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { ApiError } from '../../common/errors/api-error';
import { TypedConfigService } from '../../config';
import { USERNAME_PATTERN } from '../../common/usernames';
import { TransactionService } from '../../database/transaction.service';
import { AuditRepository } from '../audit/audit.repository';
import { MetricsService } from '../../common/metrics/metrics.service';
import { User } from '../users/entities/user.entity';
import { PasswordService } from '../users/password.service';
import { UsersRepository } from '../users/users.repository';
import { LoginDto, LoginResponse } from './dto/login.dto';
import { AccessTokenPayload } from './jwt.strategy';
import { RateLimitsService } from './rate-limits.service';

export interface LoginOrigin {
  ip: string;
  requestId: string;
}

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly passwords: PasswordService,
    private readonly jwt: JwtService,
    private readonly limits: RateLimitsService,
    private readonly audit: AuditRepository,
    private readonly tx: TransactionService,
    private readonly config: TypedConfigService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Unknown user, wrong password and disabled user answer alike, after the same amount of work. The
   * attempt is counted before the password is checked, and refunded when it succeeds.
   */
  async login(dto: LoginDto, origin: LoginOrigin): Promise<LoginResponse> {
    const attempt = await this.limits
      .countLoginAttempt(dto.username.toLowerCase(), origin.ip)
      .catch((error: unknown) => {
        this.metrics.authFailures.inc({ reason: 'rate_limited' });
        throw error;
      });
    // exact match only: a case-insensitive collation must not let "ADMIN" or "admin " in
    const found = USERNAME_PATTERN.test(dto.username) ? await this.users.findByUsername(dto.username) : null;
    const user = found?.username === dto.username ? found : null;
    // 503 when too many checks are waiting: the attempt stays counted, so a flood cannot outrun the count
    const passwordMatches = await this.passwords.verify(user?.passwordHash ?? null, dto.password);
    if (!user || !passwordMatches || user.disabled) {
      this.metrics.authFailures.inc({ reason: 'invalid_credentials' });
      await this.recordLogin('auth.login_failed', { id: null, username: dto.username, role: null }, user, origin);
      throw new ApiError('INVALID_CREDENTIALS', 'Invalid username or password');
    }
    await attempt.refund();
    const accessToken = await this.issueToken(user);
    await this.recordLogin('auth.login', user, user, origin);
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresIn: this.config.getOrThrow('auth', { infer: true }).jwtTtlSeconds,
      user: { id: user.id, username: user.username, role: user.role },
    };
  }

  /** Signs an access token; `ttlSeconds` overrides JWT_TTL (the operator CLI issues long-lived monitor tokens). */
  issueToken(user: User, ttlSeconds?: number): Promise<string> {
    const payload: AccessTokenPayload = { sub: user.id, tv: user.tokenVersion };
    const expiresIn = ttlSeconds ?? this.config.getOrThrow('auth', { infer: true }).jwtTtlSeconds;
    return this.jwt.signAsync(payload, { expiresIn });
  }

  private recordLogin(
    action: 'auth.login' | 'auth.login_failed',
    actor: { id: number | null; username: string; role: string | null },
    user: User | null,
    origin: LoginOrigin,
  ): Promise<void> {
    return this.tx.run((manager) =>
      this.audit.append(manager, {
        actor: { id: actor.id, username: actor.username, role: actor.role },
        action,
        entityType: 'user',
        entityId: user ? String(user.id) : null,
        before: null,
        after: null,
        requestId: origin.requestId,
        ip: origin.ip,
      }),
    );
  }
}
