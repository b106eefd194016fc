import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { IdParamPipe } from '../../common/http/id-param.pipe';
import { PageQuery } from '../../common/http/pagination';
import { ROLE_RULES } from '../../common/roles';
import { CreateUserDto, UpdateUserDto } from './dto/user.dto';
import { UsersService } from './users.service';

@Controller('api/users')
@Roles(ROLE_RULES.admin)
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  create(@ReqContext() ctx: RequestContext, @Body() dto: CreateUserDto) {
    return this.users.create(ctx, dto);
  }

  @Get()
  list(@Query() query: PageQuery) {
    return this.users.list(query);
  }

  @Get(':id')
  get(@Param('id', IdParamPipe) id: number) {
    return this.users.get(id);
  }

  @Patch(':id')
  update(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number, @Body() dto: UpdateUserDto) {
    return this.users.update(ctx, id, dto);
  }
}
