import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { IdParamPipe } from '../../common/http/id-param.pipe';
import { PageOf, PageQuery } from '../../common/http/pagination';
import { ROLE_RULES } from '../../common/roles';
import { CreateUserDto, UpdateUserDto, UserView } from './dto/user.dto';
import { UsersService } from './users.service';

@Controller('api/users')
@Roles(ROLE_RULES.admin)
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({ type: UserView })
  create(@ReqContext() ctx: RequestContext, @Body() dto: CreateUserDto) {
    return this.users.create(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List users' })
  @ApiOkResponse({ type: PageOf(UserView) })
  list(@Query() query: PageQuery) {
    return this.users.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a user' })
  @ApiOkResponse({ type: UserView })
  get(@Param('id', IdParamPipe) id: number) {
    return this.users.get(id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a user’s role, password or disabled flag',
    description: 'Revokes every token issued to the user before the change.',
  })
  @ApiOkResponse({ type: UserView })
  update(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number, @Body() dto: UpdateUserDto) {
    return this.users.update(ctx, id, dto);
  }
}
