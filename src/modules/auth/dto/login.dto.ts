import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { Role, ROLES } from '../../../common/roles';

export class LoginDto {
  @IsString() @Length(1, 128) username!: string;
  @IsString() @Length(1, 1024) password!: string;
}

/** `GET /api/auth/me` and the user of a login. */
export class MeView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES, enumName: 'Role' }) role!: Role;
}

export class LoginResponse {
  @ApiProperty({ description: 'A JWT: send it as Authorization: Bearer <token>' }) accessToken!: string;
  @ApiProperty({ enum: ['Bearer'] }) tokenType!: 'Bearer';
  @ApiProperty({ type: 'integer', description: 'Seconds until the token expires' }) expiresIn!: number;
  @ApiProperty({ type: MeView }) user!: MeView;
}
