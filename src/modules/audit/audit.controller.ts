import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { Roles } from '../../common/decorators/auth.decorators';
import { decodeCursor, Page, PageOf, pageSize, toPage } from '../../common/http/pagination';
import { ROLE_RULES } from '../../common/roles';
import { AuditRepository } from './audit.repository';
import { AuditQuery, AuditView, toAuditView } from './dto/audit.dto';

/** The audit trail, read-only: no route changes or deletes an entry. */
@Controller('api/audit-logs')
export class AuditController {
  constructor(private readonly audit: AuditRepository) {}

  @Get()
  @Roles(ROLE_RULES.manage)
  @ApiOperation({
    summary: 'List audit entries, newest first',
    description: 'from and to are inclusive ISO-8601 times.',
  })
  @ApiOkResponse({ type: PageOf(AuditView) })
  async list(@Query() query: AuditQuery): Promise<Page<AuditView>> {
    const limit = pageSize(query);
    const rows = await this.audit.list({
      actor: query.actor,
      action: query.action,
      entityType: query.entityType,
      entityId: query.entityId,
      from: query.from !== undefined ? new Date(query.from) : undefined,
      to: query.to !== undefined ? new Date(query.to) : undefined,
      beforeId: decodeCursor(query.cursor),
      take: limit + 1,
    });
    return toPage(rows, limit, toAuditView);
  }
}
