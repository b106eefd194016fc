import { Entity, Index, PrimaryColumn } from 'typeorm';

/** One way a product is found by search (common/search-terms.ts): a SKU prefix or a name word's prefix. */
@Entity('product_terms')
@Index('IDX_product_terms_product', ['productId'])
export class ProductTerm {
  @PrimaryColumn({ type: 'varchar', length: 160 }) term!: string;
  @PrimaryColumn({ name: 'product_id', type: 'int' }) productId!: number;
}
