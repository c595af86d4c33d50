// Where the payment page sends the buyer back: on to the order's live page.
import { error, redirect } from '@sveltejs/kit';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = ({ url }) => {
  const orderId = url.searchParams.get('order_id');
  if (!orderId || !/^[\w:=.-]{1,200}$/.test(orderId)) error(400, 'The payment page did not say which order this is.');
  redirect(303, `/orders/${encodeURIComponent(orderId)}?just_paid=1`);
};
