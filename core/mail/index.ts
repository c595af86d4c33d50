// Outgoing mail behind one interface: SMTP in production (nodemailer), the
// log in the dev stack (no mail server here: the link is printed), and a
// recording double for tests.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../logger';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface MailSender {
  /** `console`: nothing leaves the machine (the dev stack shows invitation links instead). */
  readonly kind: 'smtp' | 'console' | 'recording';
  send(mail: Mail): Promise<void>;
}

export class SmtpMailSender implements MailSender {
  readonly kind = 'smtp';
  private readonly transport: Transporter;

  constructor(smtpUrl: string, private readonly from: string) {
    this.transport = nodemailer.createTransport(smtpUrl);
  }

  async send(mail: Mail): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
  }
}

/** The dev stack's sender: prints the mail, links included, to the log. */
export class ConsoleMailSender implements MailSender {
  readonly kind = 'console';
  constructor(private readonly logger: Logger) {}

  async send(mail: Mail): Promise<void> {
    this.logger.info({ to: mail.to, subject: mail.subject }, `mail (not sent: no SMTP_URL)\n${mail.text}`);
  }
}

/** Test double: keeps every mail. */
export class RecordingMailSender implements MailSender {
  readonly kind = 'recording';
  readonly sent: Mail[] = [];

  async send(mail: Mail): Promise<void> {
    this.sent.push(mail);
  }
}

export function createMailSender(config: { SMTP_URL?: string; MAIL_FROM: string }, logger: Logger): MailSender {
  return config.SMTP_URL ? new SmtpMailSender(config.SMTP_URL, config.MAIL_FROM) : new ConsoleMailSender(logger);
}
