import { IsBoolean, IsIn, IsString, Length, Matches } from 'class-validator';
import { Optional } from '../../../common/http/optional';
import { USERNAME_PATTERN } from '../../../config/auth.config';
import { Role, ROLES } from '../../../common/roles';
import { User } from '../entities/user.entity';

export class CreateUserDto {
  @IsString() @Matches(USERNAME_PATTERN, { message: 'username must be 3..64 of [a-z0-9._-]' }) username!: string;
  @IsString() @Length(12, 128) password!: string;
  @IsIn(ROLES) role!: Role;
}

export class UpdateUserDto {
  @Optional() @IsIn(ROLES) role?: Role;
  @Optional() @IsString() @Length(12, 128) password?: string;
  @Optional() @IsBoolean() disabled?: boolean;
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
