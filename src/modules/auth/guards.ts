import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { IS_PUBLIC, Roles } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { MetricsService } from '../../common/metrics/metrics.service';
import { RateLimitsService } from './rate-limits.service';

function isPublic(reflector: Reflector, context: ExecutionContext): boolean {
  return reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]) === true;
}

/** Global: every route needs a valid access token unless it is @Public(). */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly metrics: MetricsService,
  ) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    return isPublic(this.reflector, context) || super.canActivate(context);
  }

  override handleRequest<T>(error: unknown, user: T): T {
    if (error instanceof ApiError) this.metrics.authFailures.inc({ reason: 'revoked_token' });
    if (error) throw error;
    if (!user) {
      this.metrics.authFailures.inc({ reason: 'invalid_token' });
      throw new ApiError('UNAUTHORIZED', 'A valid access token is required');
    }
    return user;
  }
}

/** Global: deny by default — a route without a role rule answers 403 to everyone. */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly metrics: MetricsService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (isPublic(this.reflector, context)) return true;
    const allowed = this.reflector.getAllAndOverride(Roles, [context.getHandler(), context.getClass()]);
    const user = context.switchToHttp().getRequest<FastifyRequest>().user!;
    if (!allowed?.includes(user.role)) {
      this.metrics.authFailures.inc({ reason: 'forbidden' });
      throw new ApiError('FORBIDDEN', 'Your role may not call this route');
    }
    return true;
  }
}

/** Global: RATE_LIMIT_PER_MINUTE per authenticated user. */
@Injectable()
export class UserRateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimitsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublic(this.reflector, context)) return true;
    const user = context.switchToHttp().getRequest<FastifyRequest>().user!;
    await this.limits.consumeRequest(user.id);
    return true;
  }
}
