import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuthUser, CurrentUser, Public, Roles } from '../../common/decorators/auth.decorators';
import { ROLE_RULES } from '../../common/roles';
import { AuthService } from './auth.service';
import { LoginDto, LoginResponse } from './dto/login.dto';

@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  login(@Body() dto: LoginDto, @Req() request: FastifyRequest): Promise<LoginResponse> {
    return this.auth.login(dto, { ip: request.ip, requestId: request.id });
  }

  @Get('me')
  @Roles(ROLE_RULES.anyUser)
  me(@CurrentUser() user: AuthUser): AuthUser {
    return { id: user.id, username: user.username, role: user.role };
  }
}
