import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsString, Length, Matches } from 'class-validator';
import { Optional } from '../../../common/http/optional';
import { Role, ROLES } from '../../../common/roles';
import { USERNAME_PATTERN, USERNAME_RULE } from '../../../common/usernames';
import { User } from '../entities/user.entity';

export class CreateUserDto {
  @IsString() @Matches(USERNAME_PATTERN, { message: `username must be ${USERNAME_RULE}` }) username!: string;
  @IsString() @Length(12, 128) password!: string;
  @IsIn(ROLES) role!: Role;
}

export class UpdateUserDto {
  @Optional() @IsIn(ROLES) role?: Role;
  @Optional() @IsString() @Length(12, 128) password?: string;
  @Optional() @IsBoolean() disabled?: boolean;
}

export class UserView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES, enumName: 'Role' }) role!: Role;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
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
