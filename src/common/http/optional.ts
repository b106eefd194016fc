import { ValidateIf } from 'class-validator';

/** May be left out, but not sent as null (unlike @IsOptional, which lets null through). */
export const Optional = () => ValidateIf((_object: unknown, value: unknown) => value !== undefined);
