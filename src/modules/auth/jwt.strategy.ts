import { Injectable } from '@nestjs/common';
import { createSecretKey } from 'node:crypto';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AuthUser } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { TypedConfigService } from '../../config';
import { UsersService } from '../users/users.service';

export const JWT_ALGORITHM = 'HS256';
/** Set in every token and required on every request: a token minted for another service with the same secret is refused. */
export const JWT_ISSUER = 'inventory-service';
export const JWT_AUDIENCE = 'inventory-api';

export interface AccessTokenPayload {
  sub: number;
  /** The user's token version when issued: a role, password or disable change bumps it. */
  tv: number;
}

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy) {
  constructor(
    config: TypedConfigService,
    private readonly users: UsersService,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // a KeyObject: given a string, jsonwebtoken tries (and fails) to parse a public key on every request
      secretOrKey: createSecretKey(
        Buffer.from(config.getOrThrow('auth', { infer: true }).jwtSecret),
      ) as unknown as Buffer,
      algorithms: [JWT_ALGORITHM],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      ignoreExpiration: false,
    });
  }

  async validate(payload: Partial<AccessTokenPayload>): Promise<AuthUser> {
    if (!Number.isSafeInteger(payload.sub) || !Number.isSafeInteger(payload.tv)) {
      throw new ApiError('UNAUTHORIZED', 'Invalid access token');
    }
    const user = await this.users.findTokenUser(payload.sub as number);
    if (!user || user.tokenVersion !== payload.tv) {
      throw new ApiError('UNAUTHORIZED', 'Access token has been revoked');
    }
    return { id: user.id, username: user.username, role: user.role };
  }
}
