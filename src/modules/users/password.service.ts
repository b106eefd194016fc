import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Semaphore } from 'async-mutex';
import * as argon2 from 'argon2';
import { ApiError } from '../../common/errors/api-error';
import { RETRY_AFTER_SECONDS } from '../../common/errors/error-codes';
import { TypedConfigService } from '../../config';

/** Password work that may wait for a slot, per slot: beyond it, 503 at once. */
const QUEUE_PER_SLOT = 8;

/**
 * argon2id, 64 MiB and 3 passes unless PASSWORD_HASH_MEMORY_KIB / PASSWORD_HASH_ITERATIONS say otherwise
 * (never below OWASP's 19 MiB and 2 passes): every character of the password counts. At most
 * LOGIN_CONCURRENCY hashes or checks run at once, a short queue waits, and the rest are refused, so a
 * burst of logins costs bounded memory and CPU instead of piling up.
 */
@Injectable()
export class PasswordService {
  /**
   * Verified against when the user does not exist, so a miss costs what a hit costs. Made by the first
   * miss, whose hashing costs what a check costs, rather than at start, where it held up the admin's hash.
   */
  private dummyHash: string | null = null;
  private readonly slots: Semaphore;
  private readonly mostPending: number;
  private readonly cost: { type: typeof argon2.argon2id; memoryCost: number; timeCost: number };
  private pending = 0;

  constructor(config: TypedConfigService) {
    const { loginConcurrency, passwordHash } = config.getOrThrow('auth', { infer: true });
    this.slots = new Semaphore(loginConcurrency);
    this.mostPending = loginConcurrency * (1 + QUEUE_PER_SLOT);
    this.cost = { type: argon2.argon2id, ...passwordHash };
  }

  hash(password: string): Promise<string> {
    // argon2's own salt (16 random bytes too) waits for an event-loop turn, which at start comes only
    // once the rest of the start has run: made here, the admin's hash begins at once and overlaps it
    return this.inSlot(() => argon2.hash(password, { ...this.cost, salt: randomBytes(16) }));
  }

  verify(hash: string | null, password: string): Promise<boolean> {
    return this.inSlot(async () => {
      const against = hash ?? this.dummyHash;
      if (against === null) {
        this.dummyHash = await argon2.hash('timing-equaliser-password', this.cost);
        return false;
      }
      return argon2.verify(against, password).catch(() => false);
    });
  }

  private async inSlot<T>(work: () => Promise<T>): Promise<T> {
    if (this.pending >= this.mostPending) {
      throw new ApiError(
        'SERVICE_UNAVAILABLE',
        'Too many password checks at once; retry shortly',
        undefined,
        RETRY_AFTER_SECONDS,
      );
    }
    this.pending++;
    try {
      return await this.slots.runExclusive(work);
    } finally {
      this.pending--;
    }
  }
}
