// The SMTP sender against a real SMTP server (smtp-server, in process): the
// invitation mail arrives with its sender, recipient, subject and link.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SmtpMailSender, createMailSender } from '../../core/mail';
import { createLogger } from '../../core/logger';

const quietLogger = () => createLogger('mail-test', 'silent');

const received: { from: string; to: string[]; data: string }[] = [];
let server: SMTPServer;
let port: number;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, done) {
      let data = '';
      stream.on('data', (c: Buffer) => (data += c.toString('utf8')));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

it('delivers a mail over SMTP from MAIL_FROM', async () => {
  const sender = createMailSender({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: 'CMP <invites@cmp.example>' }, quietLogger());
  expect(sender).toBeInstanceOf(SmtpMailSender);
  await sender.send({ to: 'colleague@example.com', subject: 'You are invited', text: 'Accept: http://127.0.0.1:3000/invite/abc' });
  expect(received).toHaveLength(1);
  expect(received[0]).toMatchObject({ from: 'invites@cmp.example', to: ['colleague@example.com'] });
  expect(received[0]!.data).toContain('Subject: You are invited');
  expect(received[0]!.data).toContain('http://127.0.0.1:3000/invite/abc');
});

it('prints the mail instead when no SMTP server is configured', async () => {
  expect(createMailSender({ MAIL_FROM: 'CMP <x@y.z>' }, quietLogger()).kind).toBe('console');
});
