import { ApiProperty } from '@nestjs/swagger';
import { ADJUST_REASONS, MOVEMENT_TYPES, StockMovement } from './entities/stock-movement.entity';

// Classes rather than interfaces so the OpenAPI document can describe the answers (nothing at runtime builds them).

export class MovementActor {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() username!: string;
}

export class MovementView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty({ enum: MOVEMENT_TYPES, enumName: 'MovementType' }) type!: StockMovement['type'];
  @ApiProperty({ type: 'integer' }) productId!: number;
  @ApiProperty() sku!: string;
  @ApiProperty({ description: 'Warehouse code' }) warehouse!: string;
  @ApiProperty({ type: 'integer', description: 'The signed change' }) quantity!: number;
  @ApiProperty({ type: 'integer', description: 'The level right after this movement' }) balanceAfter!: number;
  @ApiProperty({ type: String, nullable: true }) reference!: string | null;
  @ApiProperty({ type: String, nullable: true }) note!: string | null;
  // inline, not a named enum: OpenAPI 3.0 allows nullable only next to a type, never on a $ref
  @ApiProperty({ type: String, enum: ADJUST_REASONS, nullable: true, description: 'ADJUST only' })
  reason!: StockMovement['reason'];
  @ApiProperty({ type: MovementActor }) actor!: MovementActor;
  @ApiProperty({ type: String, nullable: true }) requestId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class LevelView {
  @ApiProperty({ type: 'integer' }) productId!: number;
  @ApiProperty() sku!: string;
  @ApiProperty({ description: 'Warehouse code' }) warehouse!: string;
  @ApiProperty({ type: 'integer' }) onHand!: number;
  /** Held for ACTIVE reservations; available = onHand - reserved (below 0 after a count found less than is held). */
  @ApiProperty({ type: 'integer', description: 'Held for ACTIVE reservations' }) reserved!: number;
  @ApiProperty({ type: 'integer', description: 'onHand - reserved; below 0 after a count found less than is held' })
  available!: number;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

/** The answer of in, out and adjust. */
export class StockWriteView {
  @ApiProperty({ type: MovementView }) movement!: MovementView;
  @ApiProperty({ type: LevelView }) level!: LevelView;
}

/** The answer of transfer ([out, in] and [from, to]) and batch (one per line). */
export class StockWritesView {
  @ApiProperty({ type: [MovementView] }) movements!: MovementView[];
  @ApiProperty({ type: [LevelView] }) levels!: LevelView[];
}

export class LevelMismatchView {
  @ApiProperty({ type: 'integer' }) productId!: number;
  @ApiProperty({ description: 'Warehouse code' }) warehouse!: string;
  @ApiProperty({ type: 'integer' }) onHand!: number;
  @ApiProperty({ type: 'integer', description: 'The sum of the level’s movements' }) ledgerSum!: number;
  @ApiProperty({ type: 'integer', nullable: true, description: 'The first movement whose balanceAfter is wrong' })
  firstBadMovementId!: number | null;
  @ApiProperty({ type: 'integer' }) reserved!: number;
  @ApiProperty({ type: 'integer', description: 'The sum of the level’s ACTIVE reservation lines' })
  reservedSum!: number;
}

export class ReconcileView {
  @ApiProperty({ type: 'integer' }) checkedLevels!: number;
  @ApiProperty({ type: [LevelMismatchView] }) mismatches!: LevelMismatchView[];
}

export function toMovementView(m: StockMovement, sku: string, warehouse: string): MovementView {
  return {
    id: m.id,
    type: m.type,
    productId: m.productId,
    sku,
    warehouse,
    quantity: m.quantity,
    balanceAfter: m.balanceAfter,
    reference: m.reference,
    note: m.note,
    reason: m.reason,
    actor: { id: m.actorId, username: m.actorUsername },
    requestId: m.requestId,
    createdAt: m.createdAt.toISOString(),
  };
}
