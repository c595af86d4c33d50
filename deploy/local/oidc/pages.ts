// The dev provider's HTML: sign-in, errors and sign-out. Plain server-rendered
// forms with no script, so they work in any browser and in test clients.
const escape = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escape(title)} · CMP sign-in (development)</title>
  <style>
    body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1d2230; margin: 0; }
    main { max-width: 380px; margin: 8vh auto; background: #fff; padding: 32px; border-radius: 12px; box-shadow: 0 2px 12px rgba(0,0,0,.08); }
    h1 { font-size: 1.4rem; margin: 0 0 4px; }
    p.sub { color: #5b6275; margin: 0 0 20px; }
    label { display: block; font-weight: 600; margin: 14px 0 6px; }
    input[type=email], input[type=password] { width: 100%; box-sizing: border-box; padding: 10px; border: 1px solid #c9cdd8; border-radius: 8px; font-size: 1rem; }
    button { margin-top: 20px; width: 100%; padding: 11px; border: 0; border-radius: 8px; background: #3451d1; color: #fff; font-size: 1rem; cursor: pointer; }
    button.secondary { background: #e4e7ee; color: #1d2230; }
    .error { background: #fdecec; color: #9b1c1c; padding: 10px; border-radius: 8px; margin-bottom: 8px; }
    .dev { margin-top: 24px; font-size: .85rem; color: #5b6275; border-top: 1px solid #e4e7ee; padding-top: 14px; }
    code { background: #f0f1f5; padding: 1px 4px; border-radius: 4px; }
  </style>
</head>
<body><main>${body}</main></body>
</html>`;
}

export interface LoginPageInput {
  uid: string;
  csrf: string;
  clientName: string;
  email?: string;
  error?: string;
  seededEmails: string[];
  devPassword: string;
}

export function loginPage(input: LoginPageInput): string {
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
  <p class="sub">to continue to ${escape(input.clientName)}</p>
  ${input.error ? `<div class="error" role="alert">${escape(input.error)}</div>` : ''}
  <form method="post" action="/interaction/${escape(input.uid)}/login" autocomplete="off">
    <input type="hidden" name="csrf" value="${escape(input.csrf)}">
    <label for="email">Email</label>
    <input id="email" type="email" name="email" required autofocus value="${escape(input.email ?? '')}">
    <label for="password">Password</label>
    <input id="password" type="password" name="password" required>
    <button type="submit">Sign in</button>
  </form>
  <div class="dev">
    <strong>Development sign-in</strong> (stands in for Keycloak). Seeded users:
    ${input.seededEmails.map((e) => `<code>${escape(e)}</code>`).join(', ')};
    the password of each is <code>${escape(input.devPassword)}</code>.
  </div>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(title, `<h1>${escape(title)}</h1><p class="sub">${escape(message)}</p>`);
}

/** `form` is oidc-provider's hidden logout form (id "op.logoutForm", with its xsrf token). */
export function logoutPage(host: string, form: string): string {
  return layout(
    'Sign out',
    `<h1>Sign out</h1>
  <p class="sub">Do you want to sign out of ${escape(host)}?</p>
  ${form}
  <button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
  <button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

export function logoutSuccessPage(): string {
  return layout('Signed out', '<h1>Signed out</h1><p class="sub">You have signed out. You can close this window.</p>');
}
