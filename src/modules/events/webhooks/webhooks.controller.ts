import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import { ReqContext, RequestContext, Roles } from '../../../common/decorators/auth.decorators';
import { IdParamPipe } from '../../../common/http/id-param.pipe';
import { PageOf, PageQuery } from '../../../common/http/pagination';
import { NoFieldsPipe } from '../../../common/http/validation.pipe';
import { ROLE_RULES } from '../../../common/roles';
import {
  CreatedWebhookView,
  CreateWebhookDto,
  DeliveriesQuery,
  DeliveryView,
  UpdateWebhookDto,
  WebhookView,
} from './dto/webhook.dto';
import { WebhooksService } from './webhooks.service';

@Controller('api/webhooks')
@Roles(ROLE_RULES.admin)
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({ summary: 'Register a webhook', description: 'The signing secret is in this answer only.' })
  @ApiCreatedResponse({ type: CreatedWebhookView })
  create(@ReqContext() ctx: RequestContext, @Body() dto: CreateWebhookDto) {
    return this.webhooks.create(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List webhooks' })
  @ApiOkResponse({ type: PageOf(WebhookView) })
  list(@Query() query: PageQuery) {
    return this.webhooks.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a webhook' })
  @ApiOkResponse({ type: WebhookView })
  get(@Param('id', IdParamPipe) id: number) {
    return this.webhooks.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Update a webhook' })
  @ApiOkResponse({ type: WebhookView })
  update(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number, @Body() dto: UpdateWebhookDto) {
    return this.webhooks.update(ctx, id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a webhook' })
  @ApiNoContentResponse({ description: 'Deleted' })
  async delete(@ReqContext() ctx: RequestContext, @Param('id', IdParamPipe) id: number) {
    await this.webhooks.delete(ctx, id);
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'List a webhook’s deliveries' })
  @ApiOkResponse({ type: PageOf(DeliveryView) })
  deliveries(@Param('id', IdParamPipe) id: number, @Query() query: DeliveriesQuery) {
    return this.webhooks.deliveries(id, query);
  }

  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a FAILED delivery again' })
  @ApiAcceptedResponse({ type: DeliveryView })
  retry(
    @Param('id', IdParamPipe) id: number,
    @Param('deliveryId', IdParamPipe) deliveryId: number,
    @Body(NoFieldsPipe) _body: unknown,
  ) {
    return this.webhooks.retry(id, deliveryId);
  }
}
