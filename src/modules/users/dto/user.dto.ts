import { IsBoolean, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { USERNAME_PATTERN } from '../../../config/auth.config';
import { Role, ROLES } from '../../../common/roles';
import { User } from '../entities/user.entity';

export class CreateUserDto {
  @IsString() @Matches(USERNAME_PATTERN, { message: 'username must be 3..64 of [a-z0-9._-]' }) username!: string;
  @IsString() @Length(12, 128) password!: string;
  @IsIn(ROLES) role!: Role;
}

export class UpdateUserDto {
  @IsOptional() @IsIn(ROLES) role?: Role;
  @IsOptional() @IsString() @Length(12, 128) password?: string;
  @IsOptional() @IsBoolean() disabled?: boolean;
}

export interface UserView {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
}

/** The only shape a user leaves the service in: never a hash. */
export function toUserView(user: User): UserView {
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
  };
}
