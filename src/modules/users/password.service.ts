import { Injectable } from '@nestjs/common';
import * as argon2 from 'argon2';

/** argon2id with the library's defaults (64 MiB, t=3): every character of the password counts. */
@Injectable()
export class PasswordService {
  /** Verified against when the user does not exist, so a miss costs what a hit costs. */
  private readonly dummyHash = argon2.hash('timing-equaliser-password');

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id });
  }

  async verify(hash: string | null, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash ?? (await this.dummyHash), password);
    } catch {
      return false;
    }
  }
}
