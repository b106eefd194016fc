import { IsString, Length } from 'class-validator';
import { Role } from '../../../common/roles';

export class LoginDto {
  @IsString() @Length(1, 128) username!: string;
  @IsString() @Length(1, 1024) password!: string;
}

export interface LoginResponse {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: { id: number; username: string; role: Role };
}
