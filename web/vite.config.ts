import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

const port = Number(process.env.WEB_PORT ?? new URL(process.env.ORIGIN ?? 'http://127.0.0.1:3000').port);

export default defineConfig({
  plugins: [sveltekit()],
  server: { host: '127.0.0.1', port, strictPort: true },
  preview: { host: '127.0.0.1', port, strictPort: true },
});
