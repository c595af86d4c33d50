export { runWithCreditHold } from './run-with-credit-hold';
