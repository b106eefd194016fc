import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ReqContext, RequestContext, Roles } from '../../../common/decorators/auth.decorators';
import { IdParamPipe } from '../../../common/http/id-param.pipe';
import { PageQuery } from '../../../common/http/pagination';
import { NoFieldsPipe } from '../../../common/http/validation.pipe';
import { ROLE_RULES } from '../../../common/roles';
import { CreateWebhookDto, DeliveriesQuery, UpdateWebhookDto } from './dto/webhook.dto';
import { WebhooksService } from './webhooks.service';

@Controller('api/webhooks')
@Roles(ROLE_RULES.admin)
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  create(@ReqContext() ctx: RequestContext, @Body() dto: CreateWebhookDto) {
    return this.webhooks.create(ctx, dto);
  }

  @Get()
  list(@Query() query: PageQuery) {
    return this.webhooks.list(query);
  }

  @Get(':id')
  get(@Param('id', IdParamPipe) id: number) {
    return this.webhooks.get(id);
  }

  @Patch(':id')
  update(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number, @Body() dto: UpdateWebhookDto) {
    return this.webhooks.update(ctx, id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number) {
    await this.webhooks.delete(ctx, id);
  }

  @Get(':id/deliveries')
  deliveries(@Param('id', IdParamPipe) id: number, @Query() query: DeliveriesQuery) {
    return this.webhooks.deliveries(id, query);
  }

  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(202)
  retry(
    @Param('id', IdParamPipe) id: number,
    @Param('deliveryId', IdParamPipe) deliveryId: number,
    @Body(NoFieldsPipe) _body: unknown,
  ) {
    return this.webhooks.retry(id, deliveryId);
  }
}
