import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AuthUser, CurrentUser, Public, Roles } from '../../common/decorators/auth.decorators';
import { ROLE_RULES } from '../../common/roles';
import { AuthService } from './auth.service';
import { LoginDto, LoginResponse, MeView } from './dto/login.dto';

@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @ApiOperation({
    summary: 'Log in for an access token',
    description:
      'Counted before the password is checked: 10 failed logins for one username, or 100 from one client ' +
      'address (IPv6: its /64; behind a proxy, per TRUST_PROXY), within 15 minutes answer 429 with Retry-After ' +
      'until the window passes. 503 with Retry-After when more than LOGIN_CONCURRENCY password checks are waiting.',
  })
  @HttpCode(200)
  @ApiOkResponse({ type: LoginResponse })
  login(@Body() dto: LoginDto, @Req() request: FastifyRequest): Promise<LoginResponse> {
    return this.auth.login(dto, { ip: request.ip, requestId: request.id });
  }

  @Get('me')
  @Roles(ROLE_RULES.anyUser)
  @ApiOperation({ summary: 'The user the token belongs to' })
  @ApiOkResponse({ type: MeView })
  me(@CurrentUser() user: AuthUser): AuthUser {
    return { id: user.id, username: user.username, role: user.role };
  }
}
