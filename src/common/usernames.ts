/** What a username may be: users are created with it, logins are checked against it, and so is ADMIN_USERNAME. */
export const USERNAME_PATTERN = /^[a-z0-9._-]{3,64}$/;
export const USERNAME_RULE = '3..64 of [a-z0-9._-]';
