import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Res,
  StreamableFile,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ReqContext, RequestContext, Roles } from '../../common/decorators/auth.decorators';
import { ApiCsvExport, csvFile } from '../../common/http/csv';
import { IdParamPipe } from '../../common/http/id-param.pipe';
import { PageOf } from '../../common/http/pagination';
import { ROLE_RULES } from '../../common/roles';
import { ExportProductsQuery, PRODUCT_CSV_COLUMNS } from './dto/export-products.dto';
import {
  CreateProductDto,
  ListProductsQuery,
  ProductDetailView,
  ProductView,
  UpdateProductDto,
} from './dto/product.dto';
import { ProductsExport } from './products-export';
import { ProductsService } from './products.service';

const ETAG = {
  ETag: { description: 'The product’s version, quoted ("3"): send it back in If-Match', schema: { type: 'string' } },
};

@Controller('api/products')
export class ProductsController {
  constructor(
    private readonly products: ProductsService,
    private readonly productsExport: ProductsExport,
  ) {}

  @Post()
  @Roles(ROLE_RULES.manage)
  @ApiOperation({ summary: 'Create a product', description: 'SKUs are unique ignoring case and never change.' })
  @ApiCreatedResponse({ type: ProductView })
  create(@ReqContext() ctx: RequestContext, @Body() dto: CreateProductDto) {
    return this.products.create(ctx, dto);
  }

  @Get()
  @Roles(ROLE_RULES.read)
  @ApiOperation({
    summary: 'List products',
    description:
      'search matches a SKU prefix or every word at the start of a word of the name (ignoring case and accents); ' +
      'lowStock keeps products whose total available is at most their reorderPoint.',
  })
  @ApiOkResponse({ type: PageOf(ProductView) })
  list(@Query() query: ListProductsQuery) {
    return this.products.list(query);
  }

  @Get('export.csv')
  @Roles(ROLE_RULES.read)
  @ApiCsvExport(
    'products.csv',
    PRODUCT_CSV_COLUMNS,
    'Export the product list as CSV',
    'Every active product the list filters keep (search, lowStock), in id order. onHand, reserved and ' +
      'available are totals over all warehouses.',
  )
  async exportCsv(@ReqContext() ctx: RequestContext, @Query() query: ExportProductsQuery): Promise<StreamableFile> {
    return csvFile(await this.productsExport.stream(query, ctx.requestId), 'products.csv');
  }

  @Get(':id')
  @Roles(ROLE_RULES.read)
  @ApiOperation({ summary: 'Get a product with its stock per warehouse' })
  @ApiOkResponse({ type: ProductDetailView, headers: ETAG })
  async get(@Param('id', IdParamPipe) id: number, @Res({ passthrough: true }) reply: FastifyReply) {
    const product = await this.products.get(id);
    void reply.header('ETag', `"${product.version}"`);
    return product;
  }

  @Patch(':id')
  @Roles(ROLE_RULES.manage)
  @ApiOperation({ summary: 'Update a product', description: 'Each update bumps version.' })
  @ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'The version the change is based on, quoted or bare (the ETag of GET); a stale one: 412',
    schema: { type: 'string', example: '"3"' },
  })
  @ApiOkResponse({ type: ProductView, headers: ETAG })
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
  @ApiOperation({
    summary: 'Archive a product',
    description:
      'It leaves lists and GET answers 404; its SKU stays taken and its history readable. 409 while any warehouse holds it.',
  })
  @ApiNoContentResponse({ description: 'Archived' })
  async archive(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number): Promise<void> {
    await this.products.archive(ctx, id);
  }
}
