import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject, ValidateNested } from 'class-validator';

/**
 * An array of `min..max` objects, each validated as `type`. Each element must be an object:
 * ValidateNested alone lets `[[]]` or `[null]` through to the service.
 */
export function ArrayOfObjects(type: () => new () => object, min: number, max: number): PropertyDecorator {
  return applyDecorators(
    IsArray(),
    ArrayMinSize(min),
    ArrayMaxSize(max),
    IsObject({ each: true, message: '$property must hold objects' }),
    ValidateNested({ each: true }),
    Type(type),
  );
}
