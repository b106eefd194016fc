import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { Role } from '../roles';

export const IS_PUBLIC = 'isPublic';
/** Opens a route to callers without a token. Only the contract's public routes carry it. */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** The roles allowed on a route or controller; every non-public route needs one. */
export const Roles = Reflector.createDecorator<readonly Role[]>();

export interface AuthUser {
  id: number;
  username: string;
  role: Role;
}

/** Who is asking, from where, under which request id: what an audit entry records. */
export interface RequestContext {
  user: AuthUser;
  requestId: string;
  ip: string;
}

export const CurrentUser = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthUser => ctx.switchToHttp().getRequest<FastifyRequest>().user!,
);

export const ReqContext = createParamDecorator((_: unknown, ctx: ExecutionContext): RequestContext => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  return { user: request.user!, requestId: request.id, ip: request.ip };
});

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the JWT guard on every non-public route. */
    user?: AuthUser;
  }
}
