// Every entity, listed once for the ORM.
import { AuditEvent } from '../modules/audit/audit-event.entity';
import { OtpCode } from '../modules/auth/otp-code.entity';
import { OtpFailure } from '../modules/auth/otp-failure.entity';
import { RetiredRefreshToken } from '../modules/auth/retired-refresh-token.entity';
import { Session } from '../modules/auth/session.entity';
import { MailOutbox } from '../modules/mail/mail-outbox.entity';
import { User } from '../modules/users/user.entity';

export const ENTITIES = [User, Session, RetiredRefreshToken, OtpCode, OtpFailure, MailOutbox, AuditEvent];
