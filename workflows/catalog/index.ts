export { checkVersion } from './check-version';
