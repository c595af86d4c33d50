export { connectorCall } from './connector-call';
