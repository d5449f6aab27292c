/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import { defineConfig, loadEnv } from 'vite'
import vue from '@vitejs/plugin-vue'

// `npm run dev` proxies /api (REST, SSE and the console WebSocket) to a running gateway:
// VITE_API=http://127.0.0.1:8080 by default (the gateway of `xorca demo`).
export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), '')
  const target = env.VITE_API || process.env.VITE_API || 'http://127.0.0.1:8080'
  return {
    // relative paths: the built files work from any directory of any static server
    base: './',
    plugins: [vue()],
    resolve: {
      alias: {
        '@': fileURLToPath(new URL('./src', import.meta.url)),
        // noVNC's package exports only core/rfb.js; its logging switch lives beside it
        'novnc-logging': fileURLToPath(new URL('./node_modules/@novnc/novnc/core/util/logging.js', import.meta.url)),
      },
    },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      // noVNC uses top-level await (H.264 detection)
      target: 'es2022',
      chunkSizeWarningLimit: 600,
    },
    server: {
      host: '127.0.0.1',
      port: 5173,
      proxy: {
        '/api': { target, changeOrigin: true, ws: true },
      },
    },
    test: {
      include: ['tests/**/*.test.ts'],
      environment: 'node',
    },
  }
})
