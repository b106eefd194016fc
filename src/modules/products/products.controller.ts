import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { IdParamPipe } from '../../common/http/id-param.pipe';
import { ROLE_RULES } from '../../common/roles';
import { CreateProductDto, ListProductsQuery, UpdateProductDto } from './dto/product.dto';
import { ProductsService } from './products.service';

@Controller('api/products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  @Roles(ROLE_RULES.manage)
  create(@ReqContext() ctx: RequestContext, @Body() dto: CreateProductDto) {
    return this.products.create(ctx, dto);
  }

  @Get()
  @Roles(ROLE_RULES.read)
  list(@Query() query: ListProductsQuery) {
    return this.products.list(query);
  }

  @Get(':id')
  @Roles(ROLE_RULES.read)
  async get(@Param('id', IdParamPipe) id: number, @Res({ passthrough: true }) reply: FastifyReply) {
    const product = await this.products.get(id);
    void reply.header('ETag', `"${product.version}"`);
    return product;
  }

  @Patch(':id')
  @Roles(ROLE_RULES.manage)
  async update(
    @ReqContext() ctx: RequestContext,
    @Param('id', IdParamPipe) id: number,
    @Body() dto: UpdateProductDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const product = await this.products.update(ctx, id, dto, ifMatch);
    void reply.header('ETag', `"${product.version}"`);
    return product;
  }

  @Delete(':id')
  @Roles(ROLE_RULES.manage)
  @HttpCode(204)
  async archive(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number): Promise<void> {
    await this.products.archive(ctx, id);
  }
}
