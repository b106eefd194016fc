import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { PageOf, PageQuery } from '../../common/http/pagination';
import { ROLE_RULES } from '../../common/roles';
import { CreateWarehouseDto, WarehouseView } from './dto/warehouse.dto';
import { WarehousesService } from './warehouses.service';

@Controller('api/warehouses')
export class WarehousesController {
  constructor(private readonly warehouses: WarehousesService) {}

  @Post()
  @Roles(ROLE_RULES.manage)
  @ApiOperation({ summary: 'Create a warehouse' })
  @ApiCreatedResponse({ type: WarehouseView })
  create(@ReqContext() ctx: RequestContext, @Body() dto: CreateWarehouseDto) {
    return this.warehouses.create(ctx, dto);
  }

  @Get()
  @Roles(ROLE_RULES.read)
  @ApiOperation({ summary: 'List warehouses' })
  @ApiOkResponse({ type: PageOf(WarehouseView) })
  list(@Query() query: PageQuery) {
    return this.warehouses.list(query);
  }
}
